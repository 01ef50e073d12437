// OpenBLAS's CBLAS interface plus its thread control. No API is promised: use TensorKernels.
#ifndef FLOWFORMER_COPENBLAS_SHIM_H
#define FLOWFORMER_COPENBLAS_SHIM_H
#include <cblas.h>
#endif
