/* One supervisor of supervisors/src/supervisor.cpp, as a Promela model for spin: restart
 * intensity and a subtree pause, racing a resume and a tree stop.
 *
 * Actors: two children (abstract workers: they fail by themselves a bounded number of times,
 * acknowledge a pause at their next safe point, end when stopped; the worker protocol itself is
 * model/worker.pml), the runner (tree_base::runner_body -> process_supervisor -> handle_exit ->
 * schedule_restart -> run_due_restarts, all under m_op), tree_base::pause(sub) (request under
 * m_op, wait for the acknowledgements WITHOUT m_op, then check the round under m_op, INV-12),
 * tree_base::resume(sub), tree_base::stop(), and the clock (the intensity period elapsing).
 * Restarts are one_for_one with no backoff (the runner's path, not the in-place fast path).
 *
 * Mutants (scripts/model.sh, -D<NAME>):
 *   PAUSE_FLAG_OUTSIDE_LOCK  request_pause_walk() sets m_paused after releasing m_op, so the
 *                            runner can restart a child between the requests and the flag
 *   INTENSITY_OFF_BY_ONE     the window allows intensity + 1 restarts in a period
 *   PAUSE_HOLDS_OP_LOCK      issue 7 bug 6 as it was: tree.pause() holds m_op while it waits,
 *                            so a tree stop waits out the pause
 */

#ifndef INTENSITY
#define INTENSITY 1  /* supervisor_config::intensity */
#endif
#ifndef FAILS
#define FAILS 3      /* child failures in the whole run */
#endif

#define C_RUN      0  /* running (or starting) */
#define C_PAUSING  1
#define C_PAUSED   2
#define C_STOPPING 3
#define C_DEAD     4  /* exited; the runner collects it */

#define T_RUNNING 0
#define T_STOPPED 1
#define T_FAILED  2

#define OP_RUNNER 1
#define OP_PAUSE  2
#define OP_RESUME 3
#define OP_STOP   4

byte cs[2];              /* each child's worker state */
bool live[2] = 1;      /* slot::active */
bool pending[2];         /* slot::restart_pending */
byte tree_state;         /* tree_base::state() */
byte op;                 /* m_op: 0 free, else who holds it */
bool paused;             /* supervisor_base::m_paused */
byte resume_round;       /* m_resume_round */
byte events;             /* m_events: the runner's wake */
byte window;             /* intensity_window: restarts in the current period */
byte fails_left = FAILS;

/* Ghosts */
byte granted;            /* restarts admitted in the current period */
bool stop_asked;         /* tree.stop() was called */
bool pause_waiting;      /* tree.pause() waits for acknowledgements */

inline take_op(who) { atomic { op == 0 -> op = who } }

/* stop_child() for both: request, then wait for the exit (children honour a stop) */
inline stop_children() {
  atomic {
    if :: live[0] && cs[0] != C_DEAD -> cs[0] = C_STOPPING :: else fi;
    if :: live[1] && cs[1] != C_DEAD -> cs[1] = C_STOPPING :: else fi
  };
  (cs[0] == C_DEAD || !live[0]) && (cs[1] == C_DEAD || !live[1]);
  atomic { live[0] = 0; live[1] = 0; pending[0] = 0; pending[1] = 0 }
}

proctype child(byte i) {
end_child:
  do
  :: atomic {  /* the body fails; on_worker_exit() posts an event */
       cs[i] == C_RUN && live[i] && fails_left > 0 -> fails_left--; cs[i] = C_DEAD; events++
     }
  :: atomic { cs[i] == C_PAUSING -> cs[i] = C_PAUSED }  /* parks at a safe point */
  :: atomic { cs[i] == C_STOPPING -> cs[i] = C_DEAD }   /* the stop: cleanup, exit */
  od
}

proctype runner() {
  byte seen, i;
  bool exceeded;
end_runner:
  do
  :: atomic { events != seen -> seen = events };
     take_op(OP_RUNNER);
     if
     :: tree_state == T_RUNNING ->
        /* process_supervisor(): collect exits; handle_exit() -> schedule_restart() */
        for (i : 0 .. 1) {
          if
          :: tree_state == T_RUNNING && live[i] && cs[i] == C_DEAD ->
             atomic {  /* the window's add() and the ghost count are one step */
               live[i] = 0;
#ifdef INTENSITY_OFF_BY_ONE
               exceeded = (window + 1 > INTENSITY + 1);
#else
               exceeded = (window + 1 > INTENSITY);
#endif
               if
               :: !exceeded ->  /* the restart is admitted: never more than the intensity in a period */
                  window++;
                  pending[i] = 1;
                  granted++;
                  assert(granted <= INTENSITY)
               :: else
               fi
             };
             if
             :: exceeded ->  /* intensity_exceeded: fail_supervisor() */
                exceeded = 0;
                stop_children();
                tree_state = T_FAILED
             :: else
             fi
          :: else
          fi
        }
        /* run_due_restarts(): a paused subtree restarts after resume */
        if
        :: tree_state == T_RUNNING && !paused ->
           for (i : 0 .. 1) {
             if
             :: pending[i] ->
                atomic {
                  pending[i] = 0; cs[i] = C_RUN; live[i] = 1
                }
             :: else
             fi
           }
        :: else
        fi
     :: else
     fi;
     op = 0;
     i = 0
  od
}

proctype pauser() {  /* tree_base::pause(sub, timeout) with a long timeout */
  byte round, i;
  take_op(OP_PAUSE);
  if :: tree_state != T_RUNNING -> op = 0; goto done :: else fi;  /* not_running */
  round = resume_round;
#ifndef PAUSE_FLAG_OUTSIDE_LOCK
  paused = 1;
#endif
  /* request_pause_walk(): every active child asked first */
  atomic {
    if :: live[0] && cs[0] == C_RUN -> cs[0] = C_PAUSING :: else fi;
    if :: live[1] && cs[1] == C_RUN -> cs[1] = C_PAUSING :: else fi
  };
#ifndef PAUSE_HOLDS_OP_LOCK
  op = 0;
#endif
#ifdef PAUSE_FLAG_OUTSIDE_LOCK
  paused = 1;
#endif
  /* wait_paused_walk(), without m_op: a stop or a resume goes ahead */
  pause_waiting = 1;
  for (i : 0 .. 1) {
    (!live[i] || cs[i] != C_PAUSING)
  }
  pause_waiting = 0;
#ifndef PAUSE_HOLDS_OP_LOCK
  take_op(OP_PAUSE);
#endif
  if
  :: tree_state != T_RUNNING -> skip  /* stopping */
  :: tree_state == T_RUNNING && (round != resume_round || !paused) -> skip  /* cancelled */
  :: else ->  /* success: no child runs (each parked, or exited and left for the runner) */
     assert((!live[0] || cs[0] == C_PAUSED || cs[0] == C_DEAD) &&
            (!live[1] || cs[1] == C_PAUSED || cs[1] == C_DEAD))
  fi;
  op = 0;
done:
  skip
}

proctype resumer() {  /* tree_base::resume(sub) */
  take_op(OP_RESUME);
  if
  :: tree_state == T_RUNNING ->
     atomic {
       resume_round++;
       paused = 0;
       if :: live[0] && (cs[0] == C_PAUSING || cs[0] == C_PAUSED) -> cs[0] = C_RUN :: else fi;
       if :: live[1] && (cs[1] == C_PAUSING || cs[1] == C_PAUSED) -> cs[1] = C_RUN :: else fi
     }
  :: else
  fi;
  op = 0;
  events++  /* post_event(): restarts that fell due while paused */
}

proctype stopper() {  /* tree_base::stop() */
  stop_asked = 1;
  take_op(OP_STOP);
  if
  :: tree_state == T_RUNNING ->
     stop_children();
     tree_state = T_STOPPED
  :: else
  fi;
  assert(cs[0] == C_DEAD || !live[0]);
  op = 0;
  stop_asked = 0
}

proctype clock() {  /* the intensity period passes, once */
  atomic { window = 0; granted = 0 }
}

/* A stop never waits behind a pause's wait for acknowledgements (INV-12). */
proctype monitor() {
end_monitor:
  atomic { (pause_waiting && op == OP_PAUSE) -> assert(!(pause_waiting && op == OP_PAUSE)) }
}

init {
  atomic {
    run child(0);
    run child(1);
    run runner();
    run pauser();
    run resumer();
    run stopper();
    run clock();
    run monitor()
  }
}

/* Under weak fairness: a tree stop finishes (a pause in progress never holds it up), and a
 * pause's wait for acknowledgements ends. */
ltl liveness { [] (stop_asked -> <> !stop_asked) && [] (pause_waiting -> <> !pause_waiting) }
