"""A simulated GPU machine for tests on a CPU: put this folder on a subprocess's PYTHONPATH with
HW3_SIM_GPUS=N, and torch answers as a machine with N CUDA devices would
(`torch.cuda.is_available()`, `device_count()`), while nothing really touches CUDA:

- `torch.cuda.set_device(i)` with i >= N fails as a real one does ("invalid device ordinal"); else
  it is noted;
- CUDA's first real use (`torch.cuda._lazy_init`: a tensor or a module moved to a GPU) is noted,
  with whether this process was forked from the one that started, and then fails with "simulated GPU
  machine";
- `torch.distributed.init_process_group` is noted with its backend; an NCCL group cannot be made on
  a CPU, so the process ends there (exit code 0) once it has been noted, as every process does with
  HW3_SIM_STOP_AT_INIT=1 (a test of the choice alone, without the training that would follow).

Notes are JSON lines appended to $HW3_SIM_LOG: {"event", "pid", "forked", "rank", "local_rank",
...}. Python imports `sitecustomize` at start-up from the path, so every process of a run
(torchrun's workers too) is simulated alike.
"""

import json
import os

_GPUS = int(os.environ.get("HW3_SIM_GPUS", "0"))
_START_PID = os.getpid()


def _note(event, **fields):
    path = os.environ.get("HW3_SIM_LOG")
    if path:
        record = {
            "event": event,
            "pid": os.getpid(),
            "forked": os.getpid() != _START_PID,
            "rank": int(os.environ.get("RANK", 0)),
            "local_rank": int(os.environ.get("LOCAL_RANK", 0)),
            **fields,
        }
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def _simulate():
    import torch
    import torch.distributed

    def set_device(device):
        index = (
            device.index if isinstance(device, torch.device) else int(str(device).split(":")[-1])
        )
        if index is None or index >= _GPUS:
            _note("set_device", index=index, ok=False)
            raise RuntimeError(
                f"CUDA error: invalid device ordinal (simulated GPU machine with {_GPUS} GPU(s))"
            )
        _note("set_device", index=index, ok=True)

    def lazy_init():
        _note("cuda_init")
        raise RuntimeError(
            "simulated GPU machine: CUDA is not really here (a tensor was moved to a GPU)"
        )

    real_init = torch.distributed.init_process_group

    def init_process_group(backend=None, *args, **kwargs):
        _note("init_process_group", backend=backend)
        if backend == "nccl" or os.environ.get("HW3_SIM_STOP_AT_INIT"):
            os._exit(0)
        return real_init(backend, *args, **kwargs)

    torch.cuda.is_available = lambda: _GPUS > 0
    torch.cuda.device_count = lambda: _GPUS
    torch.cuda.set_device = set_device
    torch.cuda._lazy_init = lazy_init
    torch.distributed.init_process_group = init_process_group


if "HW3_SIM_GPUS" in os.environ:
    _simulate()
