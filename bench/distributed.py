"""Data-parallel training on this machine, and what it projects to on N machines.

    python bench/distributed.py [--quick] [--workloads W1,W3]

For W1 and W3 (bench/run.py's models, Fashion-MNIST images): training images/s of one process with 2 threads
(the fused step) against 2 processes with 1 thread each under `mpirun -n 2` (`fit(distributed=True)`, same global
batch), timed over the second epoch of a `fit`, best of 3 alternating runs; the time of one allreduce of each workload's gradient buffer
between 2 processes, over shared memory and over TCP on loopback; and from those figures the projected images/s
on N machines (one process with 2 threads each, per-machine batch = the workload's batch, ring allreduce without
overlap). Writes bench/results/distributed-<date>.json.
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run  # noqa: E402  (bench/run.py: the workloads and how swiftcnn builds them)

MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
TEN_GBE = (1.25e9, 50e-6)    # an assumed 10 Gb/s link: bytes/s and per-message latency, for the second projection


def _data(n):
    import numpy as np
    from swiftcnn.datasets import fashion_mnist
    (x, y), _ = fashion_mnist.load_data()
    return x[:n].reshape((-1, 28, 28, 1)).astype(np.float32) / 255, y[:n].astype(np.float32)


def train_worker(workload, threads, distributed, samples):
    """Times the second epoch of a fit (the first builds the plans); rank 0 prints one JSON line."""
    from swiftcnn import callbacks, utils
    if distributed:
        import swiftcnn.distributed as hvd
        hvd.init()
    utils.set_random_seed(1)
    model = run.swiftcnn_model(workload, threads)
    spec = run.WORKLOADS[workload]
    x, y = _data(samples)
    times = {}

    def begin(epoch, logs=None):
        times[epoch] = time.perf_counter()

    def end(epoch, logs=None):
        times[epoch] = time.perf_counter() - times[epoch]
    clock = callbacks.LambdaCallback(on_epoch_begin=begin, on_epoch_end=end)
    batch = spec["batch"] // 2 if distributed else spec["batch"]
    model.fit(x, y, batch_size=batch, epochs=2, verbose=0, shuffle=True, distributed=distributed, callbacks=[clock])
    if not distributed or hvd.rank() == 0:
        print(json.dumps({"images_per_s": len(x) / times[1], "epoch_s": times[1], "params": model.count_params()}))


def allreduce_worker(sizes, reps):
    """Median time of an in-place float32 MPI_Allreduce of each size, between the processes of the job."""
    import numpy as np
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    out = {}
    for count in sizes:
        buffer = np.ones(count, dtype=np.float32)
        times = []
        for i in range(reps + 3):
            comm.Barrier()
            t = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
            if i >= 3:
                times.append(time.perf_counter() - t)
        out[count] = comm.allreduce(statistics.median(times), op=MPI.MAX)   # the slower rank's
    if comm.Get_rank() == 0:
        print(json.dumps(out))


def _child(command, mpi=0, mpi_args=()):
    if mpi:
        command = [shutil.which("mpirun"), "-n", str(mpi), "--oversubscribe", *mpi_args] + command
    done = subprocess.run(command, env={**os.environ, **MPI_ENV}, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ring_allreduce_s(count, nodes, bandwidth, latency):
    """Ring allreduce of `count` floats between `nodes` machines: 2 (N-1)/N of the buffer crosses each link, in
    2 (N-1) messages."""
    if nodes == 1:
        return 0.0
    return 2 * (nodes - 1) / nodes * count * 4 / bandwidth + 2 * (nodes - 1) * latency


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workloads", default="W1,W3")
    parser.add_argument("--train", nargs=4, help=argparse.SUPPRESS)       # workload threads distributed samples
    parser.add_argument("--allreduce", help=argparse.SUPPRESS)           # comma-separated float counts
    parser.add_argument("--reps", type=int, default=50)
    args = parser.parse_args()
    if args.train:
        w, threads, distributed, samples = args.train
        return train_worker(w, int(threads), distributed == "1", int(samples))
    if args.allreduce:
        return allreduce_worker([int(c) for c in args.allreduce.split(",")], args.reps)
    if shutil.which("mpirun") is None:
        sys.exit("bench/distributed.py needs Open MPI and mpi4py (scripts/install-deps.sh installs them)")

    import swiftcnn
    me = [sys.executable, os.path.abspath(__file__)]
    samples = {"W1": 3200, "W3": 3000} if args.quick else {"W1": 12800, "W3": 12000}
    workloads = args.workloads.split(",")
    rows = {}
    for w in workloads:
        # Alternating repetitions, the best of each: the machine is shared, and a busy minute hurts one side only.
        single, ranks = [], []
        for _ in range(1 if args.quick else 3):
            single.append(_child(me + ["--train", w, "2", "0", str(samples[w])]))
            ranks.append(_child(me + ["--train", w, "1", "1", str(samples[w])], mpi=2))
        rows[w] = {"batch": run.WORKLOADS[w]["batch"], "params": single[0]["params"],
                   "one_process_2_threads": max(r["images_per_s"] for r in single),
                   "two_processes_1_thread": max(r["images_per_s"] for r in ranks)}
    counts = sorted({rows[w]["params"] for w in workloads})
    probe = [1, 1 << 20]            # a one-float message (latency) and 4 MiB (bandwidth), for the projection
    reps = ["--reps", str(20 if args.quick else 50)]
    shm = _child(me + ["--allreduce", ",".join(map(str, counts + probe))] + reps, mpi=2)
    tcp = _child(me + ["--allreduce", ",".join(map(str, counts + probe))] + reps, mpi=2,
                 mpi_args=["--mca", "btl", "tcp,self"])
    latency = tcp[str(1)] / 2            # a 2-process allreduce of one float: about two message latencies
    bandwidth = (1 << 20) * 4 / max(tcp[str(1 << 20)] - 2 * latency, 1e-9)
    nodes = [1, 2, 4, 8, 16]
    for w in workloads:
        r = rows[w]
        r["allreduce_ms_shm"] = shm[str(r["params"])] * 1000
        r["allreduce_ms_tcp_loopback"] = tcp[str(r["params"])] * 1000
        step = r["batch"] / r["one_process_2_threads"]
        r["compute_ms_per_step"] = step * 1000
        for name, (bw, lat) in {"measured_tcp": (bandwidth, latency), "10GbE": TEN_GBE}.items():
            r["projection_" + name] = {n: n * r["batch"] / (step + ring_allreduce_s(r["params"], n, bw, lat))
                                       for n in nodes}

    isa = swiftcnn.instruction_set()
    print(f"Data-parallel training, {os.cpu_count()} cores, kernels {isa}; images/s over the 2nd epoch of a fit")
    print(f"{'workload':<10}{'params':>11}{'1 proc x 2 thr':>16}{'2 proc x 1 thr':>16}{'ratio':>7}"
          f"{'allreduce shm':>15}{'allreduce tcp':>15}{'step compute':>14}")
    for w in workloads:
        r = rows[w]
        print(f"{w + ' b' + str(r['batch']):<10}{r['params']:>11,}{r['one_process_2_threads']:>16,.0f}"
              f"{r['two_processes_1_thread']:>16,.0f}{r['two_processes_1_thread'] / r['one_process_2_threads']:>7.2f}"
              f"{r['allreduce_ms_shm']:>13.2f}ms{r['allreduce_ms_tcp_loopback']:>13.2f}ms"
              f"{r['compute_ms_per_step']:>12.1f}ms")
    print(f"TCP on loopback: {bandwidth / 1e9:.2f} GB/s, {latency * 1e6:.0f} us per message (from the probes)")
    for name, label in (("measured_tcp", "the measured loopback TCP"), ("10GbE", "an assumed 10 Gb/s link, 50 us")):
        print(f"Projected images/s on N machines (2 threads each, ring allreduce over {label}, no overlap):")
        for w in workloads:
            p = rows[w]["projection_" + name]
            print(f"  {w}: " + ", ".join(f"N={n} {p[n]:,.0f} ({p[n] / (n * p[1]):.0%})" for n in nodes))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", f"distributed-{datetime.date.today().isoformat()}.json")
    with open(path, "w") as f:
        json.dump({"instruction_set": isa, "quick": args.quick, "samples": samples, "rows": rows,
                   "tcp_loopback": {"bandwidth_bytes_per_s": bandwidth, "latency_s": latency},
                   "allreduce_s": {"shm": shm, "tcp_loopback": tcp}}, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
