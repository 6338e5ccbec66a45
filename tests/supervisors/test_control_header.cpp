// The snapshot header names the root the way child lines name children: bytes outside
// printable ASCII, and spaces, become '?', so a root name with a newline, a space or an escape
// can neither end the header line early nor add a field to it.
#include <cstdint>
#include <string>

#include "steward/supervisors/control_server.hpp"
#include "supervisor_kit.hpp"

using namespace testutil;

namespace {

std::size_t lines_in(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("control: a root name with a newline, a space or a control byte is sanitised in the header") {
  kit k;
  steward::supervisor<1> root{
      {"bad\nname tree=x\x1b", steward::strategy::one_for_one, 5, std::chrono::seconds(60)}};
  test_tree tree{root};
  REQUIRE(root.add_child(k.spec(0)));
  REQUIRE(tree.start());
  steward::control_server<4, 1> server(tree);
  std::string out(steward::control_server<4, 1>::k_reply_bytes, '\0');
  const std::string request = "snapshot";
  out.resize(server.answer(request.data(), request.size(), &out[0], out.size()));

  CHECK(lines_in(out) == 3);  // the header, one child, "end"
  const std::string head = out.substr(0, out.find('\n'));
  CHECK(head == "ok snapshot tree=running root=bad?name?tree=x? children=1");
  char tree_word[16];
  CHECK(steward::control_field(head.c_str(), "tree", tree_word, sizeof tree_word));
  CHECK(std::string(tree_word) == "running");  // the name did not add a field before it
  std::uint64_t children = 0;
  CHECK(steward::control_number(head.c_str(), "children", children));
  CHECK(children == 1);
  CHECK(out.find("\nchild path=bad?name?tree=x?/") != std::string::npos);  // as the child line has it
  CHECK(out.substr(out.size() - 4) == "end\n");
  REQUIRE(tree.stop());
}
