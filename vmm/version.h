/* The detvm version, in --version and in every trace header. */
#ifndef DETVM_VMM_VERSION_H
#define DETVM_VMM_VERSION_H

#define DETVM_VERSION_STRING "0.1.0"

#endif
