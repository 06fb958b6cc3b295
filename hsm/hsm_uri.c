#include "hsm.h"
