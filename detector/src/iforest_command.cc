#include <cstdio>

#include "cicd/detector/commands.h"

namespace cicd::detector {

int RunIforestCommand(int, const char* const*) {
  std::fputs("cicd-detector iforest: not implemented yet\n", stderr);
  return 1;
}

}  // namespace cicd::detector
