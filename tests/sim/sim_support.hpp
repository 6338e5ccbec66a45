// What the simulation drivers share: running controllers as sim threads.
#pragma once

#include <cstddef>

#include "steward/platform/thread.hpp"

// Anonymous: each program that includes this has its own copy per translation unit.
namespace {

constexpr int k_max_sim_controllers = 3;
constexpr std::size_t k_sim_controller_stack = 64 * 1024;

template <class Control>
struct sim_controller_arg {
  Control* control;
  int id;
};

template <class Control>
void sim_controller_entry(void* arg) noexcept {
  auto* a = static_cast<sim_controller_arg<Control>*>(arg);
  (*a->control)(a->id);
}

// Runs control(id) on `count` controllers: id 0 on the calling sim thread, the others on sim
// threads created first, in order. Thread creation is a fault point too: a refused one is tried
// again, and one refused for good leaves its share undone. Returns: how many created
// controllers could not be joined.
template <class Control>
int run_sim_controllers(int count, Control& control) {
  alignas(64) static unsigned char stacks[k_max_sim_controllers][k_sim_controller_stack];
  sim_controller_arg<Control> args[k_max_sim_controllers];
  steward::platform::thread_handle threads[k_max_sim_controllers];
  for (int c = 1; c < count && c < k_max_sim_controllers; ++c) {
    args[c] = sim_controller_arg<Control>{&control, c};
    const steward::platform::thread_params params{"ctl", stacks[c], k_sim_controller_stack, {}};
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (steward::platform::create_thread(threads[c], params, &sim_controller_entry<Control>, &args[c]))
        break;
    }
  }
  control(0);
  int failed = 0;
  for (int c = 1; c < count && c < k_max_sim_controllers; ++c) {
    if (threads[c].joinable() && !steward::platform::join_thread(threads[c])) ++failed;
  }
  return failed;
}

}  // namespace
