#include "cicd/core/time.h"

#include <gtest/gtest.h>

namespace cicd {
namespace {

TEST(ParseRfc3339, Utc) {
  auto t = ParseRfc3339("2025-02-04T12:16:07Z");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_DOUBLE_EQ(ToUnixSeconds(*t), 1738671367.0);
}

TEST(ParseRfc3339, OffsetAndFraction) {
  // The OpenAPI job example uses -08:00 step times.
  auto t = ParseRfc3339("2020-01-20T09:42:40.250-08:00");
  ASSERT_TRUE(t.ok());
  auto utc = ParseRfc3339("2020-01-20T17:42:40Z");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(*t - *utc, std::chrono::milliseconds(250));
}

TEST(ParseRfc3339, CompactOffset) {
  auto t = ParseRfc3339("2020-01-20T17:42:40+0000");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatRfc3339(*t), "2020-01-20T17:42:40Z");
}

TEST(ParseRfc3339, RejectsGarbage) {
  for (const char* bad : {"", "2020-01-20", "2020-13-01T00:00:00Z", "2020-01-20T17:42:40",
                          "yesterday", "2020-01-20T17:42:40Zjunk"}) {
    EXPECT_FALSE(ParseRfc3339(bad).ok()) << bad;
  }
}

TEST(FormatRfc3339, RoundTripsMillis) {
  const TimePoint t = FromUnixMillis(1461091892486);
  EXPECT_EQ(FormatRfc3339Millis(t), "2016-04-19T18:51:32.486Z");
  EXPECT_EQ(FormatRfc3339(t), "2016-04-19T18:51:32Z");
}

TEST(ParseDuration, PrometheusSyntax) {
  EXPECT_EQ(ParseDuration("500ms")->count(), 500);
  EXPECT_EQ(ParseDuration("30s")->count(), 30'000);
  EXPECT_EQ(ParseDuration("1h30m")->count(), 5'400'000);
  EXPECT_EQ(ParseDuration("7d")->count(), 7 * 86'400'000LL);
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("5x").ok());
  EXPECT_FALSE(ParseDuration("-5s").ok());
}

TEST(FormatDuration, Readable) {
  EXPECT_EQ(FormatDuration(Millis(5'400'000)), "1h30m");
  EXPECT_EQ(FormatDuration(Millis(250)), "250ms");
  EXPECT_EQ(FormatDuration(Millis(0)), "0s");
}

}  // namespace
}  // namespace cicd
