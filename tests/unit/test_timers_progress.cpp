#include <gtest/gtest.h>

#include <thread>

#include "engine/progress.hpp"
#include "engine/timers.hpp"

using namespace saddle::engine;

TEST(Timers, ScopesAccumulateAndReduceOverOneRank) {
  Timers t;
  {
    auto s = t.scope("work");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  t.add("work", 1.0);
  t.add("io", 0.5);
  EXPECT_GE(t.seconds("work"), 1.015);
  EXPECT_LT(t.seconds("work"), 2.0);
  EXPECT_EQ(t.seconds("missing"), 0.0);
  const auto s = t.reduce(Comm());
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].name, "io");
  EXPECT_EQ(s[0].min, 0.5);
  EXPECT_EQ(s[0].max, 0.5);
  const std::string table = Timers::table(s);
  EXPECT_NE(table.find("work"), std::string::npos);
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::format_duration(0), "0:00:00");
  EXPECT_EQ(Progress::format_duration(3725.4), "1:02:05");
  EXPECT_EQ(Progress::format_duration(NAN), "--:--:--");
}
