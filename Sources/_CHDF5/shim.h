// HDF5's file-access flags and native type ids are macros (the type ids read globals that are
// only valid after H5open()). Each is re-exported as a static inline function that opens the
// library first. No API is promised: use HDF5IO.
#ifndef FLOWFORMER_CHDF5_SHIM_H
#define FLOWFORMER_CHDF5_SHIM_H
#include <hdf5.h>

static inline unsigned ff_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned ff_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline unsigned ff_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned ff_h5f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline hid_t ff_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t ff_h5s_all(void) { return H5S_ALL; }
static inline hid_t ff_h5e_default(void) { return H5E_DEFAULT; }
static inline hid_t ff_h5p_dataset_create(void) { H5open(); return H5P_DATASET_CREATE; }
static inline hid_t ff_h5p_file_access(void) { H5open(); return H5P_FILE_ACCESS; }
static inline hid_t ff_h5p_link_create(void) { H5open(); return H5P_LINK_CREATE; }
static inline hid_t ff_h5t_native_uint8(void) { H5open(); return H5T_NATIVE_UINT8; }
static inline hid_t ff_h5t_native_uint16(void) { H5open(); return H5T_NATIVE_UINT16; }
static inline hid_t ff_h5t_native_int32(void) { H5open(); return H5T_NATIVE_INT32; }
static inline hid_t ff_h5t_native_int64(void) { H5open(); return H5T_NATIVE_INT64; }
static inline hid_t ff_h5t_native_uint64(void) { H5open(); return H5T_NATIVE_UINT64; }
static inline hid_t ff_h5t_native_float(void) { H5open(); return H5T_NATIVE_FLOAT; }
static inline hid_t ff_h5t_native_double(void) { H5open(); return H5T_NATIVE_DOUBLE; }
static inline hid_t ff_h5t_c_s1(void) { H5open(); return H5T_C_S1; }
static inline size_t ff_h5t_variable(void) { return H5T_VARIABLE; }
static inline hsize_t ff_h5s_unlimited(void) { return H5S_UNLIMITED; }

#endif
