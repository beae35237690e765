#include "cicd/detector/csv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/fixtures.h"

namespace cicd::detector {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// gzip.compress(b"a,b\n1,2\n", mtime=0) and gzip.compress(b"3,4\n", mtime=0).
const std::string kGzipHeaderRow(
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\x4b\xd4\x49\xe2\x32\xd4\x31\xe2\x02\x00\x7b\x07"
    "\x97\x0a\x08\x00\x00\x00",
    28);
const std::string kGzipRow(
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\x33\xd6\x31\xe1\x02\x00\x3e\x2d\x72\xa9\x04\x00"
    "\x00\x00",
    24);

TEST(ParseNumericCsvTest, ReadsHeaderAndRowMajorValues) {
  const Result<NumericTable> t = ParseNumericCsv("f0,f1,label\n1.5,-2,0\n3e2,+4,1\n");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_THAT(t->columns, ElementsAre("f0", "f1", "label"));
  EXPECT_EQ(t->rows(), 2u);
  EXPECT_THAT(t->values, ElementsAre(1.5, -2, 0, 300, 4, 1));
  EXPECT_THAT(t->lines, ElementsAre(2, 3));
  EXPECT_EQ(*t->ColumnIndex("label"), 2u);
  EXPECT_EQ(t->ColumnIndex("nope").status().code(), ErrorCode::kNotFound);
}

TEST(ParseNumericCsvTest, ToleratesCrLfBlankLinesSpacesAndQuotes) {
  const Result<NumericTable> t = ParseNumericCsv("\r\n\"a\", b \r\n 1 ,\"2\"\r\n\r\n3,4\r\n\n");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_THAT(t->columns, ElementsAre("a", "b"));
  EXPECT_THAT(t->values, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(t->lines, ElementsAre(3, 5));
}

TEST(ParseNumericCsvTest, NoTrailingNewlineAndHeaderOnly) {
  const Result<NumericTable> t = ParseNumericCsv("x\n7");
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(t->values, ElementsAre(7));
  const Result<NumericTable> empty = ParseNumericCsv("x,y\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->rows(), 0u);
}

TEST(ParseNumericCsvTest, ReadsNanAndInfAsValuesForTheCallerToJudge) {
  const Result<NumericTable> t = ParseNumericCsv("x,y\nnan,inf\n");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(std::isnan(t->values[0]));
  EXPECT_TRUE(std::isinf(t->values[1]));
}

TEST(ParseNumericCsvTest, EmptyInputHasNoHeader) {
  EXPECT_THAT(ParseNumericCsv("").status().message(), HasSubstr("no header"));
  EXPECT_THAT(ParseNumericCsv("\n \n").status().message(), HasSubstr("no header"));
}

TEST(ParseNumericCsvTest, RaggedRowNamesTheLine) {
  const Status s = ParseNumericCsv("a,b\n1,2\n\n3\n").status();
  EXPECT_EQ(s.code(), ErrorCode::kParse);
  EXPECT_THAT(s.message(), HasSubstr("line 4: 1 cells, the header has 2"));
  EXPECT_THAT(ParseNumericCsv("a,b\n1,2,3\n").status().message(),
              HasSubstr("line 2: 3 cells, the header has 2"));
}

TEST(ParseNumericCsvTest, NonNumericCellNamesLineColumnAndValue) {
  const Status s = ParseNumericCsv("a,b\n1,2\n3,abc\n").status();
  EXPECT_EQ(s.code(), ErrorCode::kParse);
  EXPECT_THAT(s.message(), HasSubstr("line 3, column 2 (\"b\"): \"abc\" is not a number"));
  EXPECT_THAT(ParseNumericCsv("a,b\n1,2x\n").status().message(),
              HasSubstr("\"2x\" is not a number"));
  EXPECT_THAT(ParseNumericCsv("a,b\n,2\n").status().message(),
              HasSubstr("line 2, column 1 (\"a\"): empty cell"));
}

TEST(ParseNumericCsvTest, RejectsBadHeaders) {
  EXPECT_THAT(ParseNumericCsv("a,a\n1,2\n").status().message(), HasSubstr("appears twice"));
  EXPECT_THAT(ParseNumericCsv("a,,c\n1,2,3\n").status().message(),
              HasSubstr("column 2 has no name"));
}

TEST(GunzipTest, InflatesOneMember) {
  ASSERT_TRUE(IsGzip(kGzipHeaderRow));
  const Result<std::string> text = Gunzip(kGzipHeaderRow);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "a,b\n1,2\n");
}

TEST(GunzipTest, InflatesConcatenatedMembers) {
  std::string data = kGzipHeaderRow;
  for (int i = 0; i < 1000; ++i) data += kGzipRow;
  const Result<std::string> text = Gunzip(data);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(text->size(), 8u + 4u * 1000u);
  const Result<NumericTable> t = ParseNumericCsv(*text);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->rows(), 1001u);
  EXPECT_EQ(t->values.back(), 4);
}

TEST(GunzipTest, RejectsTruncatedCorruptAndForeignData) {
  EXPECT_THAT(Gunzip(kGzipHeaderRow.substr(0, 20)).status().message(), HasSubstr("truncated"));
  std::string corrupt = kGzipHeaderRow;
  corrupt[12] = static_cast<char>(0xFF);
  EXPECT_EQ(Gunzip(corrupt).status().code(), ErrorCode::kParse);
  EXPECT_FALSE(IsGzip("a,b\n"));
  EXPECT_EQ(Gunzip("a,b\n").status().code(), ErrorCode::kParse);
  EXPECT_THAT(Gunzip(kGzipHeaderRow + "junk").status().message(), HasSubstr("after the end"));
}

class ReadNumericCsvTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("csv_test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string dir_;
};

TEST_F(ReadNumericCsvTest, ReadsPlainAndGzipFilesByContent) {
  const Result<NumericTable> plain = ReadNumericCsv(Write("t.csv", "a,b\n1,2\n"));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  // Named without .gz on purpose: the content decides.
  const Result<NumericTable> gz = ReadNumericCsv(Write("t.data", kGzipHeaderRow + kGzipRow));
  ASSERT_TRUE(gz.ok()) << gz.status().ToString();
  EXPECT_THAT(gz->values, ElementsAre(1, 2, 3, 4));
}

TEST_F(ReadNumericCsvTest, ErrorsNameTheFile) {
  EXPECT_EQ(ReadNumericCsv(dir_ + "/missing.csv").status().code(), ErrorCode::kNotFound);
  const std::string path = Write("bad.csv", "a\nx\n");
  const Status s = ReadNumericCsv(path).status();
  EXPECT_THAT(s.message(), HasSubstr(path));
  EXPECT_THAT(s.message(), HasSubstr("line 2, column 1"));
  const std::string truncated = Write("bad.csv.gz", kGzipHeaderRow.substr(0, 20));
  EXPECT_THAT(ReadNumericCsv(truncated).status().message(), HasSubstr("truncated"));
}

}  // namespace
}  // namespace cicd::detector
