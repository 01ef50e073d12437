// Open MPI's handles are macros over addresses of global structs, which Swift cannot import.
// Each is re-exported as a static inline function. No API is promised: use MPIComm.
#ifndef FLOWFORMER_CMPI_SHIM_H
#define FLOWFORMER_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm ff_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm ff_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype ff_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype ff_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype ff_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype ff_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype ff_mpi_uint8(void) { return MPI_UINT8_T; }
static inline MPI_Datatype ff_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype ff_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op ff_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op ff_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op ff_mpi_min(void) { return MPI_MIN; }
static inline void *ff_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *ff_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *ff_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline MPI_Request ff_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Errhandler ff_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int ff_mpi_success(void) { return MPI_SUCCESS; }
static inline int ff_mpi_thread_single(void) { return MPI_THREAD_SINGLE; }
static inline int ff_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int ff_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int ff_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
static inline int ff_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int ff_mpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }
static inline int ff_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline MPI_Info ff_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline int ff_mpi_any_source(void) { return MPI_ANY_SOURCE; }

#endif
