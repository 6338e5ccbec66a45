// The Promela model of the worker protocol (model/worker.pml) takes every state change from a
// copy of the lifecycle table; this keeps that copy equal to the code's table, row by row, in
// order, so that what spin checks is the protocol the code runs.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include "steward/core/lifecycle.hpp"

namespace {

// The rows between the model's BEGIN/END lifecycle_table markers, as "from event to".
std::vector<std::string> model_rows(const char* path) {
  std::ifstream in(path);
  std::vector<std::string> rows;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("BEGIN lifecycle_table") != std::string::npos) {
      inside = true;
      continue;
    }
    if (line.find("END lifecycle_table") != std::string::npos) break;
    if (!inside) continue;
    const auto open = line.find("ROW(");
    if (open == std::string::npos) continue;
    const auto close = line.find(')', open);
    std::string row;
    for (char ch : line.substr(open + 4, close - open - 4)) {
      if (ch == ',') {
        row += ' ';
      } else if (ch != ' ') {
        row += ch;
      }
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST_CASE("lifecycle: the Promela model's table is the code's table") {
  const auto rows = model_rows(STEWARD_SOURCE_DIR "/model/worker.pml");
  REQUIRE(rows.size() == steward::lifecycle_table_size);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = steward::lifecycle_table[i];
    const std::string code =
        std::string(to_string(row.from)) + " " + to_string(row.event) + " " + to_string(row.to);
    CHECK_MESSAGE(rows[i] == code, "row ", i, ": model has '", rows[i], "', code has '", code, "'");
  }
}

TEST_CASE("lifecycle: the model table extraction reads only the marked rows") {
  // The extraction must read real rows: a model file without the markers gives none.
  CHECK(model_rows(STEWARD_SOURCE_DIR "/README.md").empty());
  CHECK(model_rows(STEWARD_SOURCE_DIR "/model/worker.pml").front() == "idle start starting");
}
