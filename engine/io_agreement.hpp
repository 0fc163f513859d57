#pragma once
// Collective MPI-IO calls whose outcome every rank agrees on (io_agreement.cpp interposes the
// MPI_File_* calls parallel HDF5 makes), so that a write failing on one rank (a full disk) fails
// on every rank of the file and no rank is left waiting in a collective call.
#include <string>

namespace saddle::engine {

// The text of the first collective MPI-IO failure since the last call ("MPI_File_write_at_all:
// ... No space left on device"), the same on every rank of the file; "" if none. Clears it.
std::string take_io_failure();

}  // namespace saddle::engine
