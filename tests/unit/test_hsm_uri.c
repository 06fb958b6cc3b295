#include <check.h>
#include <stdlib.h>
int main(void);
int main(void) { return EXIT_FAILURE; /* not written yet */ }
