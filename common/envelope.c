#include "envelope.h"
