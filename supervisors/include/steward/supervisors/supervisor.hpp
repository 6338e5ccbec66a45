// Supervisor trees (one_for_one, one_for_all, rest_for_one) arrive with issue #3.
#pragma once

#include "steward/core/worker.hpp"
