# Doxygen input filter for steward's headers (scripts/docs.sh). The headers document with plain
# `//` comments (docs: STYLE, "Comments"); this presents them to doxygen as documentation:
#   - the file's opening comment block becomes the file's description (`\file`);
#   - a comment block before a declaration becomes its documentation (`///`);
#   - a comment after a member on the same line becomes that member's (`///<`);
#   - the NOTE-n footnotes after the last declaration stay plain comments.
# Characters doxygen would read as commands or HTML in prose (\ @ < > & # %) are escaped, so a
# comment that says `result<void>` or "@SEMI@" is shown as written.
function escape(text) {
  gsub(/\\/, "\\\\", text)
  gsub(/@/, "\\@", text)
  gsub(/</, "\\<", text)
  gsub(/>/, "\\>", text)
  gsub(/&/, "\\&", text)
  gsub(/#/, "\\#", text)
  gsub(/%/, "\\%", text)
  return text
}
BEGIN { head = 1; notes = 0; held = ""; trailing = -1 }
{
  line = $0
  if (head) {
    if (line ~ /^\/\/ ?/) {  # held back one line, so that the last one can carry \file
      if (held != "") print held
      sub(/^\/\/ ?/, "", line)
      held = "/// " escape(line)
      next
    }
    head = 0
    if (held != "") print held " \\file"  # same line count: warnings point at the right lines
  }
  if (line ~ /^\/\/ NOTE-[0-9]+/) notes = 1
  if (notes) { print line; next }
  indent = line
  sub(/[^ \t].*/, "", indent)
  if (line ~ /^[ \t]*\/\/ ?/ && line !~ /^[ \t]*\/\/ *NOLINT/) {
    text = line
    sub(/^[ \t]*\/\/ ?/, "", text)
    # Indented deeper than the member whose trailing comment it follows: that comment goes on.
    if (trailing >= 0 && length(indent) > trailing) {
      print indent "///< " escape(text)
      next
    }
    trailing = -1
    print indent "/// " escape(text)
    next
  }
  trailing = -1
  # A trailing comment after a declaration (not inside a string, not a NOLINT marker).
  if (match(line, /[;,{}][ \t]+\/\/ /) && line !~ /"[^"]*\/\/[^"]*"/ && line !~ /\/\/ *NOLINT/) {
    code = substr(line, 1, RSTART)
    rest = substr(line, RSTART + 1)
    sub(/^[ \t]+\/\/ /, "", rest)
    print code "  ///< " escape(rest)
    trailing = length(indent)
    next
  }
  print line
}
