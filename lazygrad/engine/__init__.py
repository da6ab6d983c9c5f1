"""The engine: realizes tensors (schedules from the cache, run by the runtime) and replays
recorded steps (`lg.jit`). Above the Tensor class, below the ops that build graphs."""
