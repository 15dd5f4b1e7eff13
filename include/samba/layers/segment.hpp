// samba/layers/segment.hpp: the rows of a layer's input that belong to one sequence. A forward
// pass over several sequences at once (batched decoding: one token each) stacks their rows, so
// every projection reads its weights once for all of them, while the stateful parts (conv, scan,
// attention) run per segment against that sequence's own state.
#pragma once

#include <span>

#include "samba/core/types.hpp"

namespace samba {

template <class State>
struct Segment {
  State* state;   // the sequence's state for this layer
  index_t rows;   // consecutive rows of the stacked input, in sequence order
};

}  // namespace samba
