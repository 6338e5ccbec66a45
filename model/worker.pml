/* The worker protocol of core/src/worker.cpp, one worker slot, as a Promela model for spin.
 *
 * Actors: the worker's thread (worker::thread_entry, worker::run and the safe points of its
 * body), two controllers making pause / resume / stop / start calls, through the current
 * incarnation or a handle read earlier (worker::*_generation), and one asynchronous stop
 * (worker::request_stop_async, lock-free, as from a signal handler). Every state change takes
 * its row from the lifecycle table below, which tests/core/test_model_table.cpp holds equal to
 * core/include/steward/core/lifecycle.hpp (lifecycle_table).
 *
 * Abstractions (docs/verification.md): the body is a loop of safe points (a checkpoint or a
 * steward wait, with or without a deadline) and may return by itself, ok or with an error; a
 * deadline may pass at any moment; futexes are modelled exactly (compare-and-sleep in one
 * step, a wake reaches only a sleeper); the seq_cst atomics are Promela's interleaving, and a
 * CAS loop on m_ctrl is one atomic step (a loop that retries takes effect at its successful
 * CAS); a timed controller wait may time out at any moment. Not modelled: fd waits and the
 * eventfd waker (NOTE-1), notifiers (NOTE-7), stop callbacks, the initialised flag and
 * wait_initialised(), thread creation and retirement (the first start() is done in init),
 * the park clock.
 *
 * Mutants (scripts/model.sh compiles each with -D<NAME>; each must be caught):
 *   FLAG_OUTSIDE_LOCK   stop_generation() checks the generation under m_mutex but sets the
 *                       stop flag after releasing it
 *   NOTIFY_BEFORE_SET   stop_generation() wakes the worker before it sets the flag
 *   STOP_NO_UNPARK      stop_generation() on a paused worker does not wake it
 *   STALE_GEN           check_generation_locked() accepts a handle of another generation
 *   CLEANUP_TWICE       the stopped_before_start path unwinds the cleanup stack, then run()
 *                       unwinds it again
 *   GEN_WRAP            issue_generation_locked() draws from a 2-bit counter
 *   BUG_CANCELLED_PAUSE issue 7 bug 1 as it was: enter() treats every state other than
 *                       starting/pausing as "stop won"
 *   BUG_PLAIN_STORE     issue 7 bug 3 as it was: finish_incarnation_locked() publishes the
 *                       next incarnation with a plain store over the word it read earlier
 */

/* The bounds. A scenario (scripts/model.sh) sets them; each is checked exhaustively. */
#ifndef CTRL0_OPS
#define CTRL0_OPS 2      /* calls controller 0 makes (it may use handles) */
#endif
#ifndef CTRL1_OPS
#define CTRL1_OPS 0      /* calls controller 1 makes (0: it does not run) */
#endif
#ifndef ASYNC_STOP
#define ASYNC_STOP 1     /* 1: one request_stop_async() at any moment */
#endif
#ifndef MAX_RESTARTS
#define MAX_RESTARTS 1   /* restarts in place the decider grants, in the whole run */
#endif
#define NCTRL 2

/* worker_state, in the order of the C++ enum (bits 0-2 of the control word) */
#define S_idle     0
#define S_starting 1
#define S_running  2
#define S_pausing  3
#define S_paused   4
#define S_stopping 5
#define S_stopped  6
#define S_failed   7
#define NONE       255

/* lifecycle_event */
#define E_start            0
#define E_entered          1
#define E_initialised      2
#define E_pause_request    3
#define E_parked           4
#define E_resume           5
#define E_stop_request     6
#define E_body_returned    7
#define E_exited_clean     8
#define E_exited_failed    9
#define E_restart_in_place 10

/* The control word m_ctrl (NOTE-4): the state and k_ctrl_stop (k_ctrl_initialised is not
 * modelled: no controller here waits for it). */
#define STOPF 8
#define ST(c) ((c) & 7)
#define WITH(c, s) (((c) & STOPF) | (s))
#define TERMINAL(s) ((s) == S_idle || (s) == S_stopped || (s) == S_failed)

/* m_wait (NOTE-9) */
#define W_none    0
#define W_blocked 1
#define W_proxied 2

#define CUR 255          /* k_current_generation */
#define WORKER_ID 1      /* m_mutex owner ids; controllers are 2 and 3 */

byte ctrl = S_starting;  /* m_ctrl: init has done the first start() */
byte gen = 1;            /* m_generation */
byte issued = 1;         /* m_issued_generation */
byte mutex;              /* m_mutex: 0 free, else its owner's id */
/* m_wake, the worker's wake word: only the worker reads it, and each of its sleeps compares
 * it with the value read last, so "bumped since the worker last read it" is all that matters. */
bool wake_bumped;
bool wake_sleeping;      /* m_wake_sleeping (NOTE-6) */
bool w_asleep;           /* the futex: the worker sleeps on m_wake */
byte m_wait;             /* NOTE-9 */
byte ctrl_waiters;       /* m_ctrl_waiters */
bool c_asleep[NCTRL];    /* the futex: controller i sleeps on m_ctrl */
byte last_exit_gen;      /* m_last_exit.generation */
byte restarts;           /* restarts in place granted so far (the model's bound) */

/* Ghosts: what the code promises, tracked beside it. */
byte incarnation = 1;    /* incarnations begun; never wraps in the model */
bool stop_pending;       /* a stop landed on the current incarnation, not yet ended */
bool in_body;            /* the worker runs body code (not inside a safe point) */
bool cleaned;            /* this incarnation's cleanup stack was unwound */
bool pause_wait[NCTRL];  /* controller i waits for a pause acknowledgement */

#define ROW(f, e, t) (from == S_##f && ev == E_##e) -> to = S_##t

/* lifecycle_next() */
inline lookup(from, ev, to) {
  atomic {
    if
    /* BEGIN lifecycle_table (tests/core/test_model_table.cpp: equal to lifecycle_table, in order) */
    :: ROW(idle,     start,            starting)
    :: ROW(stopped,  start,            starting)
    :: ROW(failed,   start,            starting)
    :: ROW(starting, entered,          running)
    :: ROW(starting, pause_request,    pausing)
    :: ROW(starting, resume,           starting)
    :: ROW(starting, stop_request,     stopping)
    :: ROW(running,  entered,          running)
    :: ROW(running,  initialised,      running)
    :: ROW(running,  pause_request,    pausing)
    :: ROW(running,  resume,           running)
    :: ROW(running,  stop_request,     stopping)
    :: ROW(running,  body_returned,    stopping)
    :: ROW(pausing,  entered,          pausing)
    :: ROW(pausing,  initialised,      pausing)
    :: ROW(pausing,  pause_request,    pausing)
    :: ROW(pausing,  parked,           paused)
    :: ROW(pausing,  resume,           running)
    :: ROW(pausing,  stop_request,     stopping)
    :: ROW(pausing,  body_returned,    stopping)
    :: ROW(paused,   resume,           running)
    :: ROW(paused,   stop_request,     stopping)
    :: ROW(stopping, entered,          stopping)
    :: ROW(stopping, initialised,      stopping)
    :: ROW(stopping, stop_request,     stopping)
    :: ROW(stopping, body_returned,    stopping)
    :: ROW(stopping, exited_clean,     stopped)
    :: ROW(stopping, exited_failed,    failed)
    :: ROW(stopping, restart_in_place, starting)
    :: ROW(idle,     stop_request,     idle)
    :: ROW(stopped,  stop_request,     stopped)
    :: ROW(failed,   stop_request,     failed)
    /* END lifecycle_table */
    :: else -> to = NONE
    fi
  }
}

inline lock(id) { atomic { mutex == 0 -> mutex = id } }
inline unlock() { mutex = 0 }

/* worker::wake_worker(): bump m_wake, then the futex call only if the worker sleeps (NOTE-6) */
inline wake_worker() {
  wake_bumped = 1;
  if :: wake_sleeping -> w_asleep = 0 :: else fi
}

/* worker::wake_controllers(): the futex call only when m_ctrl_waiters says someone waits */
inline wake_controllers() {
  if :: ctrl_waiters != 0 -> atomic { c_asleep[0] = 0; c_asleep[1] = 0 } :: else fi
}

/* worker::sleep_on_wake(seen, deadline); a macro, so that each sleeping site has its own end
 * label (a worker idle, parked, or blocked in a wait that nobody ends is a valid end state). */
#define SLEEP_ON_WAKE(lbl, timed, tout) \
  wake_sleeping = 1; \
  atomic { if :: !wake_bumped -> w_asleep = 1 :: else fi }; \
lbl: if \
  :: !w_asleep -> skip \
  :: timed && w_asleep -> w_asleep = 0; tout = 1 \
  fi; \
  wake_sleeping = 0

/* worker::issue_generation_locked(): a number is never handed out twice */
inline issue_generation(n) {
#ifdef GEN_WRAP
  n = (issued + 1) & 3;  /* a generation field two bits wide */
#else
  n = issued + 1;
  assert(n != 0);  /* the model's runs stay far from a wrap of the 32-bit counter */
#endif
  if :: n == 0 -> n = 1 :: else fi;  /* 0 is the null handle's generation */
  issued = n
}

/* worker::transition_self(ev): a CAS loop; no wake when nothing changed */
inline transition_self(ev) {
  atomic {
    lookup(ST(ctrl), ev, to);
    assert(to != NONE);  /* core.worker/300 */
    changed = (WITH(ctrl, to) != ctrl);
    ctrl = WITH(ctrl, to)
  };
  if :: changed -> changed = 0; wake_controllers() :: else fi
}

/* m_cleanup.unwind(): exactly once per incarnation */
inline unwind() {
  assert(!cleaned);
  cleaned = 1
}

proctype worker_thread() {
  byte c, to, pfrom;
  byte reason;  /* 1 clean, 2 failed */
  bool changed, timed, tout, proxied, park_stop, entered;

thread_loop:  /* worker::thread_entry() */
  wake_bumped = 0;  /* seen = m_wake, before m_ctrl (NOTE-2) */
  if
  :: !TERMINAL(ST(ctrl)) -> goto run_incarnation
  :: else
  fi;
  SLEEP_ON_WAKE(end_idle, 0, tout);
  goto thread_loop;

run_incarnation:  /* worker::run(); report.generation is `gen` until the next incarnation */
  /* worker::enter(): the table decides; a CAS loop */
  atomic {
    c = ctrl;
    lookup(ST(c), E_entered, to);
    assert(to != NONE);  /* core.worker/310 */
#ifdef BUG_CANCELLED_PAUSE
    entered = (ST(c) == S_starting || ST(c) == S_pausing) && !(c & STOPF);
#else
    entered = (to != S_stopping && !(c & STOPF));
#endif
    if :: entered -> ctrl = WITH(c, to) :: else fi;
    c = 0; to = 0
  };
  if
  :: entered -> entered = 0; in_body = 1; goto body_loop
  :: else
  fi;
  /* stopped_before_start: only when a stop was requested (INV-2; issue 7 bug 1) */
  assert(stop_pending);
  reason = 1;
#ifdef CLEANUP_TWICE
  unwind();
#endif
  goto body_over;

body_loop:  /* the body: safe points until it returns */
  if
  :: goto checkpoint
  :: goto wait_begin
  :: reason = 1; goto body_end  /* returns ok */
  :: reason = 2; goto body_end  /* returns an error */
  fi;

checkpoint:  /* worker_context::checkpoint() -> worker::checkpoint_slow() */
  atomic { in_body = 0; c = ST(ctrl) };
  if
  :: c == S_stopping -> reason = 1; goto body_end  /* stop_requested, propagated */
  :: c == S_pausing || c == S_paused -> pfrom = 1; goto park
  :: else -> atomic { c = 0; in_body = 1 }; goto body_loop
  fi;
after_checkpoint_park:
  if :: park_stop -> reason = 1; goto body_end :: else -> in_body = 1; goto body_loop fi;

wait_begin:  /* worker::wait_loop() (sleep_until, wait_until) */
  atomic { in_body = 0; if :: timed = 1 :: timed = 0 fi };
wait_loop:
  atomic { wake_bumped = 0; c = ST(ctrl) };  /* seen = m_wake, then m_ctrl (NOTE-2) */
  if
  :: c == S_stopping -> reason = 1; goto body_end
  :: c == S_pausing || c == S_paused -> pfrom = 2; goto park
  :: else -> c = 0
  fi;
  if :: tout -> atomic { tout = 0; timed = 0; in_body = 1 }; goto body_loop :: else fi;  /* timeout */
  m_wait = W_blocked;  /* begin_blocking() */
  SLEEP_ON_WAKE(end_waiting, timed, tout);
  atomic { proxied = (m_wait == W_proxied); m_wait = W_none };  /* end_blocking() */
  if :: proxied -> proxied = 0; pfrom = 2; goto park :: else -> goto wait_loop fi;
after_wait_park:
  if :: park_stop -> reason = 1; goto body_end :: else -> goto wait_loop fi;

park:  /* worker::park() */
  atomic { wake_bumped = 0; c = ST(ctrl) };  /* NOTE-2 */
  if
  :: c == S_pausing ->
     atomic {  /* the acknowledgement: a CAS pausing -> paused */
       lookup(ST(ctrl), E_parked, to);
       changed = (ST(ctrl) == S_pausing);
       if :: changed -> ctrl = WITH(ctrl, to) :: else fi;
       to = 0
     };
     if :: changed -> changed = 0; wake_controllers() :: else fi;
     goto park
  :: c == S_paused ->
     SLEEP_ON_WAKE(end_parked, 0, tout);
     goto park
  :: c == S_stopping -> park_stop = 1
  :: else -> park_stop = 0
  fi;
  c = 0;
  if
  :: pfrom == 1 -> pfrom = 0; goto after_checkpoint_park
  :: pfrom == 2 -> pfrom = 0; goto after_wait_park
  fi;

body_end:  /* worker::run_body(): the exit reason */
  atomic {
    in_body = 0; park_stop = 0; timed = 0; tout = 0;
    if :: reason == 2 && (ctrl & STOPF) -> reason = 1 :: else fi  /* stopped, not an error */
  };
body_over:
  transition_self(E_body_returned);
  unwind();

  /* worker::finish_incarnation_locked() */
  lock(WORKER_ID);
  last_exit_gen = gen;
  if
  :: restarts < MAX_RESTARTS ->  /* a restart decider is installed */
     c = ctrl;
     if
     :: !(c & STOPF) ->
        lookup(ST(c), E_restart_in_place, to);
        if
        :: to != NONE ->
           if
           :: restarts++ ->  /* the decider asks for the next incarnation */
              issue_generation(c);
              atomic { cleaned = 0; gen = c; incarnation++; c = 0 };  /* m_cleanup.reset, the generation */
#ifdef BUG_PLAIN_STORE
              ctrl = to;
#else
              atomic {  /* a CAS loop: an async stop that landed meanwhile carries over */
                if
                :: (ctrl & STOPF) -> ctrl = S_stopping | STOPF
                :: else -> ctrl = to
                fi
              };
#endif
              atomic { unlock(); c = 0; to = 0; reason = 0 };
              wake_controllers();
              goto thread_loop
           :: skip  /* the decider declines */
           fi
        :: else
        fi
     :: else  /* a stop won: end as usual */
     fi
  :: else
  fi;
  atomic { unlock(); c = 0; to = 0 };
  /* the terminal state, the incarnation's last touch of the slot; a CAS loop */
  atomic {
    assert(cleaned);
    if
    :: reason == 2 -> lookup(ST(ctrl), E_exited_failed, to)
    :: else -> lookup(ST(ctrl), E_exited_clean, to)
    fi;
    assert(to != NONE);
    ctrl = WITH(ctrl, to);
    stop_pending = 0;
    to = 0; reason = 0
  };
  wake_controllers();
  goto thread_loop
}

/* check_generation_locked(), under m_mutex: resolves g and records in my_inc the incarnation
 * the call acts on. One step with the lock's acquisition and the CAS loop that follows: the
 * generation changes only under the lock, and the CAS loop re-reads the word anyway. */
#ifdef STALE_GEN
#define GEN_MISMATCH(g) (false)
#else
#define GEN_MISMATCH(g) (g != gen)
#endif
#define CHECK_GENERATION(g) \
    if \
    :: g == CUR -> g = gen; my_inc = incarnation \
    :: else -> \
       if \
       :: GEN_MISMATCH(g) -> unlock(); goto op_done  /* stale_handle */ \
       :: else -> assert(h_inc == incarnation); my_inc = h_inc  /* never another incarnation */ \
       fi \
    fi

/* worker::wait_for_worker(): park on m_ctrl until DONE, the generation moves, or a timeout */
inline wait_for_worker(g, DONE) {
  atomic { ctrl_waiters++; c = ctrl; ended = (gen != g); done = (ended || DONE) };
  do
  :: done -> break
  :: else ->
     atomic { if :: ctrl == c -> c_asleep[me] = 1 :: else fi };  /* the futex compares, sleeps */
     if
     :: atomic { !c_asleep[me] -> c = ctrl; ended = (gen != g); done = (ended || DONE) }
     :: atomic {
          timed && c_asleep[me] ->  /* the deadline */
          c_asleep[me] = 0; c = ctrl; ended = (gen != g);
          if :: !ended && !(DONE) -> tout = 1 :: else fi;
          done = 1
        }
     fi
  od;
  ctrl_waiters--
}

#define OP_PAUSE 1
#define OP_RESUME 2
#define OP_STOP 3
#define OP_START 4

proctype controller(byte me) {
  byte id = me + 2;
  byte ops, op, g, h, h_inc, my_inc, c, to;
  bool changed, timed, ended, done, tout, proxied;

  do
  :: (me == 0 && ops < CTRL0_OPS) || (me == 1 && ops < CTRL1_OPS) ->
     atomic {
       ops++;
       /* this call: the current incarnation, or (controller 0) a handle read earlier */
       if :: g = CUR :: me == 0 && h != 0 -> g = h fi;
       if
       :: me == 0 && ops < CTRL0_OPS -> h = gen; h_inc = incarnation; g = 0  /* worker::handle(), used later */
       :: op = OP_PAUSE
       :: op = OP_RESUME
       :: op = OP_STOP
       :: op = OP_START; g = 0
       fi
     };
     if
     :: op == OP_PAUSE -> goto op_pause
     :: op == OP_RESUME -> goto op_resume
     :: op == OP_STOP -> goto op_stop
     :: op == OP_START -> goto op_start
     :: else -> goto op_done
     fi;

op_pause:  /* worker::pause_generation(g, timeout, post = true) */
     atomic {
       lock(id);
       CHECK_GENERATION(g);
       c = ctrl;  /* a CAS loop */
       if :: TERMINAL(ST(c)) -> unlock(); goto op_done :: else fi;  /* not_running */
       lookup(ST(c), E_pause_request, to);
       if :: to == NONE -> unlock(); goto op_done :: else fi;  /* pause_refusal() */
       changed = (WITH(c, to) != c);
       if :: changed -> assert(my_inc == incarnation); ctrl = WITH(c, to) :: else fi
     };
     /* worker::park_blocked_worker_locked() (NOTE-9): claim a worker blocked in a wait */
     atomic {
       if
       :: ST(ctrl) == S_pausing && m_wait == W_blocked -> m_wait = W_proxied; proxied = 1
       :: else
       fi
     };
     atomic {
       if
       :: proxied ->  /* a CAS loop: the worker may have acknowledged first, or a stop landed */
          lookup(ST(ctrl), E_parked, to);
          if :: ST(ctrl) == S_pausing -> ctrl = WITH(ctrl, to) :: else fi
       :: else
       fi;
       unlock()
     };
     if
     :: proxied -> wake_controllers()  /* other pause() callers */
     :: !proxied && changed -> wake_worker()
     :: else
     fi;
     atomic { if :: timed = 1 :: timed = 0 fi; pause_wait[me] = 1 };
     wait_for_worker(g, (ST(c) != S_pausing));
     pause_wait[me] = 0;
     goto op_done;

op_resume:  /* worker::resume_generation() */
     atomic {
       lock(id);
       CHECK_GENERATION(g);
       c = ctrl;  /* a CAS loop */
       lookup(ST(c), E_resume, to);
       if :: to == NONE -> unlock(); goto op_done :: else fi;  /* stopping / not_running */
       changed = (WITH(c, to) != c);
       if :: changed -> assert(my_inc == incarnation); ctrl = WITH(c, to) :: else fi;
       unlock()
     };
     if :: changed -> wake_worker(); wake_controllers() :: else fi;
     goto op_done;

op_stop:  /* worker::stop_generation() */
     atomic {
       lock(id);
       CHECK_GENERATION(g);
#ifdef FLAG_OUTSIDE_LOCK
       unlock()
     };
     atomic {
#endif
#ifdef NOTIFY_BEFORE_SET
       wake_bumped = 1
     };
     if :: wake_sleeping -> w_asleep = 0 :: else fi;  /* wake_worker() before the flag is set */
     atomic {
#endif
       c = ctrl;  /* a CAS loop */
       lookup(ST(c), E_stop_request, to);
       assert(to != NONE);  /* core.worker/200: stop is valid in every state */
       if :: TERMINAL(to) -> unlock(); goto op_done :: else fi;  /* returns m_last_exit */
       changed = ((WITH(c, to) | STOPF) != c);
       if
       :: changed -> assert(my_inc == incarnation); ctrl = WITH(c, to) | STOPF; stop_pending = 1
       :: else
       fi;
       unlock()
     };
     if
     :: changed ->
#ifdef STOP_NO_UNPARK
        if :: ST(c) != S_paused -> wake_worker() :: else fi;  /* a paused worker stays parked */
#else
#ifndef NOTIFY_BEFORE_SET
        wake_worker();
#endif
#endif
        wake_controllers()
     :: else
     fi;
     if :: timed = 1 :: timed = 0 fi;
     wait_for_worker(g, TERMINAL(ST(c)));
     /* await_exit(): the report, or a newer incarnation replaced it (stale_handle, documented) */
     if
     :: !tout -> atomic { lock(id); assert(last_exit_gen == g || gen != g); unlock() }
     :: else
     fi;
     goto op_done;

op_start:  /* worker::start() on a terminal worker: the idle thread takes the incarnation */
     atomic {
       lock(id);
       lookup(ST(ctrl), E_start, to);
       if :: to == NONE -> unlock(); goto op_done :: else fi;  /* already_running / stopping */
       issue_generation(c);
       cleaned = 0; gen = c; incarnation++;  /* m_cleanup.reset, the generation */
       /* a plain store: terminal states take no request, nothing changed the word meanwhile */
       assert(TERMINAL(ST(ctrl)));
       ctrl = to;
       wake_bumped = 1  /* wake_worker(), under the lock */
     };
     atomic { if :: wake_sleeping -> w_asleep = 0 :: else fi; unlock() };
     goto op_done;

op_done:
     atomic {
       op = 0; g = 0; c = 0; to = 0; my_inc = 0;
       changed = 0; timed = 0; ended = 0; done = 0; tout = 0; proxied = 0
     }
  :: else -> break
  od
}

/* worker::request_stop_async(): no lock (a signal may have interrupted its holder), a CAS
 * loop on the current incarnation; it may come at any moment, once. */
proctype async_stop() {
  byte to;
  bool changed;
  atomic {
    lookup(ST(ctrl), E_stop_request, to);
    changed = (to != NONE && !TERMINAL(to) && (WITH(ctrl, to) | STOPF) != ctrl);
    if :: changed -> ctrl = WITH(ctrl, to) | STOPF; stop_pending = 1 :: else fi
  };
  if :: changed -> wake_worker(); wake_controllers() :: else fi
}

/* Invariants that must hold in every state: a paused worker runs no body code; a stop that
 * landed is in the word until the incarnation ends. */
#define INVARIANT ((ST(ctrl) != S_paused || !in_body) && (!stop_pending || (ctrl & STOPF)))

proctype monitor() {
end_monitor:
  atomic { !INVARIANT -> assert(INVARIANT) }
}

init {
  atomic {
    run worker_thread();
    run controller(0);
#if CTRL1_OPS > 0
    run controller(1);
#endif
#if ASYNC_STOP
    run async_stop();
#endif
    run monitor()
  }
}

/* Liveness, under weak fairness (pan -a -f): a stop that landed leads to the incarnation's end
 * (a terminal state published), and a pause() caller waiting for its acknowledgement returns
 * (parked, refused, or its deadline). */
ltl liveness {
  [] (stop_pending -> <> !stop_pending) &&
  [] (pause_wait[0] -> <> !pause_wait[0]) &&
  [] (pause_wait[1] -> <> !pause_wait[1])
}
