#include "test_env.h"
