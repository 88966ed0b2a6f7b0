// The RealtimeCache contract suite: one set of tests every implementation is instantiated with.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "sungrow/server/cache/cache.hpp"

namespace sungrow::cache::test {

// One implementation under test, with whatever it needs kept alive (e.g. its Redis server).
class CacheUnderTest {
 public:
  virtual ~CacheUnderTest() = default;
  virtual RealtimeCache& cache() = 0;
};

struct CacheImplementation {
  std::string name;  // also the expected kind()
  std::function<std::unique_ptr<CacheUnderTest>(std::chrono::milliseconds ttl)> make;
};

// Names the parameter in ctest output instead of dumping its bytes.
inline void PrintTo(const CacheImplementation& implementation, std::ostream* os) {
  *os << implementation.name;
}

class CacheContract : public ::testing::TestWithParam<CacheImplementation> {};

inline std::string implementation_name(const ::testing::TestParamInfo<CacheImplementation>& info) {
  return info.param.name;
}

}  // namespace sungrow::cache::test
