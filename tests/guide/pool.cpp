// Guide: a pausable pool, where the Python recipe pauses a ThreadPoolExecutor's workers with a
// shared Event. steward has no pool: this is a fixed set of identical workers under one
// supervisor, taking jobs from a fixed array.
#include <atomic>
#include <chrono>

#include "steward/core/worker.hpp"
#include "steward/supervisors/supervisor.hpp"

using namespace std::chrono_literals;

namespace {

// guide:begin pool_queue
constexpr int k_jobs = 32;
int g_input[k_jobs];
std::atomic<int> g_submitted{0}, g_taken{0}, g_done{0};
std::atomic<long> g_sum{0};
std::atomic<bool> g_closed{false};
steward::notifier g_work;  // "jobs were submitted, or the queue closed"

bool claim(int& job) {
  int t = g_taken.load();
  while (t < g_submitted.load()) {
    if (g_taken.compare_exchange_weak(t, t + 1)) {
      job = t;
      return true;
    }
  }
  return false;
}

void submit(int value) {
  const int n = g_submitted.load();
  g_input[n] = value;
  g_submitted.store(n + 1);
  g_work.notify_all();
}

steward::result<void> pool_worker(steward::worker_context& ctx) {
  for (;;) {
    int job = -1;
    STEWARD_TRY(ctx.wait_until(
        g_work, [&] { return claim(job) || g_closed.load(); }, steward::never));
    if (job < 0) return {};  // closed and drained: a normal exit
    g_sum.fetch_add(static_cast<long>(g_input[job]) * g_input[job]);
    g_done.fetch_add(1);
  }
}
// guide:end

steward::static_worker<> g_slots[4];
const char* const k_ids[4] = {"w0", "w1", "w2", "w3"};

}  // namespace

int main() {
  // guide:begin pool_run
  steward::supervisor_config cfg;
  cfg.name = "pool";
  cfg.order = steward::child_order::parallel;                 // the workers do not depend on each other
  cfg.shutdown_on = steward::auto_shutdown::all_significant;  // ends when every worker has returned
  steward::supervisor<4> pool(cfg);
  steward::supervision_tree<> tree(pool);
  for (int i = 0; i < 4; ++i) {
    steward::child_spec spec;
    spec.id = k_ids[i];
    spec.worker_slot = &g_slots[i];
    spec.body = &pool_worker;
    spec.restart = steward::restart_type::transient;  // restarted only if it fails
    spec.significant = true;
    if (!pool.add_child(spec)) return 1;
  }
  if (!tree.start()) return 2;
  for (int i = 0; i < k_jobs / 2; ++i) submit(i);
  if (!tree.pause(1s)) return 3;  // every worker parked: between jobs, never inside one
  const int done_at_pause = g_done.load();
  for (int i = k_jobs / 2; i < k_jobs; ++i) submit(i);  // queued; nobody takes them yet
  if (g_done.load() != done_at_pause) return 4;
  if (!tree.resume()) return 5;
  g_closed = true;  // executor.shutdown(wait=True): drain, then every worker returns
  g_work.notify_all();
  auto ended = tree.wait(5s);
  if (!ended || *ended != steward::tree_state::stopped || g_done.load() != k_jobs) return 6;
  // guide:end
  long expected = 0;
  for (int i = 0; i < k_jobs; ++i) expected += static_cast<long>(i) * i;
  return g_sum.load() == expected ? 0 : 7;
}
