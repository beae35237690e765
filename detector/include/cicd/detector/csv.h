#pragma once
// Numeric CSV tables for the offline modes (benchmark data sets): a header of
// column names, then rows of numbers, comma-separated; optionally gzip.
//
// Accepted: "\n" or "\r\n" line ends, blank lines (skipped), spaces around
// cells, names or numbers in double quotes (without embedded commas or
// quotes), anything std::from_chars reads as a double plus a leading '+'
// (so "nan" and "inf" are read as such: callers decide whether they are
// acceptable). Everything else is an error naming the line and column.
//
// Parsing is pure (bytes in, table out); only ReadNumericCsv touches files.
// Thread-safety: free functions without shared state.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/result.h"

namespace cicd::detector {

struct NumericTable {
  std::vector<std::string> columns;  // header names, in file order
  std::vector<double> values;        // row-major: row r at [r * columns.size(), ...)
  std::vector<std::size_t> lines;    // 1-based line of each row, for messages
  std::size_t rows() const { return lines.size(); }
  // Index of the column named `name`; kNotFound when absent.
  Result<std::size_t> ColumnIndex(std::string_view name) const;
};

// Parses CSV text. Errors (kParse): no header, an empty or repeated column
// name, a row with a different number of cells than the header ("line 7: 3
// cells, the header has 4"), a cell that is not a number ("line 7, column 2
// (\"f1\"): \"abc\" is not a number").
Result<NumericTable> ParseNumericCsv(std::string_view text);

// True when `bytes` starts with the gzip magic number.
bool IsGzip(std::string_view bytes);

// Inflates gzip data, including several concatenated members (what `cat
// a.gz b.gz` makes). Errors (kParse): not gzip, corrupt or truncated data.
Result<std::string> Gunzip(std::string_view compressed);

// Reads `path`, inflating it when it is gzip (recognised by content, not by
// the name), and parses it. Errors: kNotFound / kIo from reading; the parse
// errors above, prefixed with the path.
Result<NumericTable> ReadNumericCsv(const std::string& path);

}  // namespace cicd::detector
