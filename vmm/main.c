#include <stdio.h>

int main(int argc, char **argv)
{
	fprintf(stderr, "detvm: under construction\n");
	return 2;
}
