// The whole public API in one include: workers, their cleanup protocol and waits, periodic
// workers, rate limiting, supervision trees and their structured reports, and the platform knobs an application uses
// (clock, real-time settings, the service manager's notification socket). Prefer the narrower headers in
// libraries that need only a part.
#pragma once

#include "steward/core/cleanup_stack.hpp"
#include "steward/core/config.hpp"
#include "steward/core/contract.hpp"
#include "steward/core/error.hpp"
#include "steward/core/expected.hpp"
#include "steward/core/lifecycle.hpp"
#include "steward/core/periodic.hpp"
#include "steward/core/pool.hpp"
#include "steward/core/report_ring.hpp"
#include "steward/core/rate_limiter.hpp"
#include "steward/core/time.hpp"
#include "steward/core/worker.hpp"
#include "steward/platform/clock.hpp"
#include "steward/platform/fd_write.hpp"
#include "steward/platform/rt.hpp"
#include "steward/platform/sd_notify.hpp"
#include "steward/supervisors/policy.hpp"
#include "steward/supervisors/reports.hpp"
#include "steward/supervisors/service_notifier.hpp"
#include "steward/supervisors/supervisor.hpp"
