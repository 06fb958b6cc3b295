#include "sgtime.h"
