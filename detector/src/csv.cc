#include "cicd/detector/csv.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <set>

#include "cicd/core/atomic_file.h"

namespace cicd::detector {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return s;
}

// Splits `text` into lines one at a time; strips "\r" from "\r\n" ends.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  // False at the end of the text.
  bool Next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    const char* start = text_.data() + pos_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', text_.size() - pos_));
    const std::size_t len = nl ? static_cast<std::size_t>(nl - start) : text_.size() - pos_;
    line = std::string_view(start, len);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ += len + 1;
    ++line_number_;
    return true;
  }
  std::size_t line_number() const { return line_number_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_number_ = 0;
};

bool IsBlank(std::string_view line) { return Trim(line).empty() && line.find('"') == line.npos; }

// Calls `cell(index, text)` for each comma-separated cell of `line`; returns
// the number of cells.
template <typename F>
std::size_t ForEachCell(std::string_view line, F&& cell) {
  std::size_t index = 0;
  for (;;) {
    const std::size_t comma = line.find(',');
    cell(index++, line.substr(0, comma));
    if (comma == line.npos) return index;
    line.remove_prefix(comma + 1);
  }
}

bool ParseDouble(std::string_view text, double& out) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string Quoted(std::string_view s) {
  constexpr std::size_t kMax = 40;
  return "\"" + std::string(s.substr(0, kMax)) + (s.size() > kMax ? "...\"" : "\"");
}

Result<std::vector<std::string>> ParseHeader(std::string_view line, std::size_t line_number) {
  std::vector<std::string> columns;
  std::set<std::string_view> seen;
  std::string error;
  ForEachCell(line, [&](std::size_t i, std::string_view cell) {
    const std::string_view name = Trim(cell);
    if (!error.empty()) return;
    if (name.empty()) {
      error = "column " + std::to_string(i + 1) + " has no name";
    } else if (!seen.insert(name).second) {
      error = "column name " + Quoted(name) + " appears twice";
    }
    columns.emplace_back(name);
  });
  if (!error.empty()) {
    return ParseError("line " + std::to_string(line_number) + " (header): " + error);
  }
  return columns;
}

}  // namespace

Result<std::size_t> NumericTable::ColumnIndex(std::string_view name) const {
  const auto it = std::find(columns.begin(), columns.end(), name);
  if (it == columns.end()) {
    return Status::Error(ErrorCode::kNotFound, "no column named " + Quoted(name));
  }
  return static_cast<std::size_t>(it - columns.begin());
}

Result<NumericTable> ParseNumericCsv(std::string_view text) {
  LineReader reader(text);
  std::string_view line;
  bool have_header = false;
  while (!have_header && reader.Next(line)) have_header = !IsBlank(line);
  if (!have_header) return ParseError("no header line: the CSV is empty");

  NumericTable table;
  Result<std::vector<std::string>> header = ParseHeader(line, reader.line_number());
  if (!header.ok()) return header.status();
  table.columns = std::move(header).value();
  const std::size_t cols = table.columns.size();
  // One value per ~8 bytes is a fair guess for numeric CSVs; avoids most
  // regrowth on large files.
  table.values.reserve(std::min<std::size_t>(text.size() / 8, std::size_t{1} << 28));

  while (reader.Next(line)) {
    if (IsBlank(line)) continue;
    const std::size_t line_number = reader.line_number();
    std::size_t bad_cell = cols;  // index of the first unreadable cell
    const std::size_t cells = ForEachCell(line, [&](std::size_t i, std::string_view cell) {
      double v = 0;
      if (i < cols && bad_cell == cols && !ParseDouble(Trim(cell), v)) bad_cell = i;
      if (i < cols) table.values.push_back(v);
    });
    if (cells != cols) {
      return ParseError("line " + std::to_string(line_number) + ": " + std::to_string(cells) +
                        " cells, the header has " + std::to_string(cols));
    }
    if (bad_cell != cols) {
      std::string_view cell;
      ForEachCell(line, [&](std::size_t i, std::string_view c) {
        if (i == bad_cell) cell = Trim(c);
      });
      return ParseError("line " + std::to_string(line_number) + ", column " +
                        std::to_string(bad_cell + 1) + " (" + Quoted(table.columns[bad_cell]) +
                        "): " + (cell.empty() ? "empty cell" : Quoted(cell) + " is not a number"));
    }
    table.lines.push_back(line_number);
  }
  return table;
}

bool IsGzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

Result<std::string> Gunzip(std::string_view compressed) {
  if (!IsGzip(compressed)) return ParseError("not gzip data (bad magic number)");
  z_stream zs{};
  // 16 + MAX_WBITS: gzip framing only.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return Status::Error(ErrorCode::kInternal, "zlib: inflateInit2 failed");
  }
  std::string out;
  // The gzip trailer holds the size mod 2^32 of the last member: a good
  // first guess for the output buffer.
  // Capped by deflate's best ratio (about 1032:1) so a corrupt trailer cannot
  // ask for gigabytes.
  std::size_t guess = compressed.size() * 4;
  if (compressed.size() >= 18) {
    const auto* tail =
        reinterpret_cast<const unsigned char*>(compressed.data() + compressed.size() - 4);
    const std::size_t stated = std::size_t{tail[0]} | std::size_t{tail[1]} << 8 |
                               std::size_t{tail[2]} << 16 | std::size_t{tail[3]} << 24;
    guess = std::max(guess, std::min(stated, compressed.size() * 1032));
  }
  out.resize(guess);
  std::size_t in_pos = 0;
  std::size_t out_pos = 0;
  int rc = Z_OK;
  constexpr std::size_t kMaxChunk = std::numeric_limits<uInt>::max();
  while (true) {
    if (zs.avail_in == 0) {
      const std::size_t n = std::min(kMaxChunk, compressed.size() - in_pos);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data() + in_pos));
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    if (out_pos == out.size()) out.resize(out.size() * 2 + 4096);
    const std::size_t space = std::min(kMaxChunk, out.size() - out_pos);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
    zs.avail_out = static_cast<uInt>(space);
    rc = inflate(&zs, Z_NO_FLUSH);
    out_pos += space - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Another member may follow (concatenated .gz files); trailing zero
      // padding, which some tools write, ends the data.
      const std::size_t consumed = in_pos - zs.avail_in;
      const std::string_view rest = compressed.substr(consumed);
      if (!IsGzip(rest)) {
        if (rest.find_first_not_of('\0') != rest.npos) {
          inflateEnd(&zs);
          return ParseError("gzip: unexpected data after the end of the stream");
        }
        break;
      }
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_pos == compressed.size()) {
      inflateEnd(&zs);
      return ParseError("gzip data is truncated");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      const std::string detail = zs.msg ? zs.msg : "error " + std::to_string(rc);
      inflateEnd(&zs);
      return ParseError("gzip data is corrupt: " + detail);
    }
  }
  inflateEnd(&zs);
  out.resize(out_pos);
  return out;
}

Result<NumericTable> ReadNumericCsv(const std::string& path) {
  Result<std::string> bytes = ReadFileToString(path);
  if (!bytes.ok()) return bytes.status();
  if (IsGzip(*bytes)) {
    Result<std::string> text = Gunzip(*bytes);
    if (!text.ok()) return text.status().WithContext(path);
    bytes = std::move(text);
  }
  Result<NumericTable> table = ParseNumericCsv(*bytes);
  if (!table.ok()) return table.status().WithContext(path);
  return table;
}

}  // namespace cicd::detector
