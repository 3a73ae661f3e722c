"""Sweeps spread over executors and kept in results files: a 2-worker Dask LocalCluster on 127.0.0.1 gives the
serial run's numbers; a run that raises or kills its worker is reported with its config while the others
complete; an interrupted sweep resumes without redoing finished runs; mistakes are one sentence; and nothing
imports dask unless --cluster is given."""
import json
import logging
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from pynn.errors import PynnError
from pynn.experiments.results import ResultStore, run_saved
from pynn.experiments.sweep import summarise, sweep_configs, train_one
from pynn.experiments.workers import ProcessExecutor, SerialExecutor
from pynn_tui.cli import main

SMALL_DIGITS = {"limit": 600}  # 480 train / 120 test: quick to load in every worker
DOOMED = 3                 # the hidden size whose run kills its process in _train_or_die


def small_sweep(sizes=(2, 5), seeds=2, **grid):
    return sweep_configs(list(sizes), seeds, data="digits", epochs=1, **SMALL_DIGITS, **grid)


def numbers(results):
    """Everything but the time a run took, which no two runs share."""
    return [None if r is None else {k: v for k, v in r.items() if k != "seconds"} for r in results]


def by_position(runs, count):
    results, errors = [None] * count, {}
    for run in runs:
        results[run.position] = run.result
        if run.error is not None:
            errors[run.position] = (run.config, run.error)
    return results, errors


def _train_or_die(config):
    """train_one, except that the run with DOOMED hidden units ends its process on the spot, as a crash in C
    or the out-of-memory killer would."""
    if config["hidden"] == DOOMED:
        os._exit(17)
    return train_one(config)


@pytest.fixture(scope="module")
def serial():
    configs = small_sweep()
    return configs, by_position(SerialExecutor().finished(train_one, configs), len(configs))[0]


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    import cloudpickle
    import dask

    # Workers cannot import this test file, so its functions travel by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    # A task whose worker dies fails at once (not after 3 retries), and each worker holds only the task it
    # runs, so a dying worker takes no innocent queued task with it.
    settings = {"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": 1.0}
    with dask.config.set(settings), distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0",
            silence_logs=logging.CRITICAL) as local:
        yield local.scheduler_address
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def pynn(capsys, *args):
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


# -- executors give the same numbers -----------------------------------------------------------------------

def test_a_two_worker_local_cluster_gives_the_serial_numbers(cluster, serial):
    from pynn.experiments.cluster import DaskExecutor

    configs, expected = serial
    with DaskExecutor(cluster) as executor:
        assert executor.workers() == 2 and "2 workers" in executor.where
        results, errors = by_position(executor.finished(train_one, configs), len(configs))
    assert not errors and numbers(results) == numbers(expected)
    assert len({r["test_accuracy"] for r in results}) > 1     # four different networks, not one repeated


def test_local_processes_give_the_serial_numbers(serial):
    configs, expected = serial
    results, errors = by_position(ProcessExecutor(2).finished(train_one, configs), len(configs))
    assert not errors and numbers(results) == numbers(expected)


# -- a failed run is reported, the others complete ----------------------------------------------------------

def test_a_task_that_raises_on_the_cluster_is_reported_with_its_config(cluster, serial):
    from pynn.experiments.cluster import DaskExecutor

    configs, expected = serial
    bad = {**configs[0], "hidden": 4, "init": "zeros"}    # an initialisation the trainer rejects
    with DaskExecutor(cluster) as executor:
        results, errors = by_position(executor.finished(train_one, [*configs, bad]), len(configs) + 1)
    assert list(errors) == [len(configs)]
    config, error = errors[len(configs)]
    assert config == bad and "zeros" in error and "Traceback" not in error
    assert numbers(results[:-1]) == numbers(expected)


def test_a_task_that_kills_its_worker_is_reported_and_the_others_complete(cluster, serial):
    from pynn.experiments.cluster import DaskExecutor

    configs, expected = serial
    doomed = {**configs[0], "hidden": DOOMED}
    runs = [configs[0], doomed, *configs[1:]]
    with DaskExecutor(cluster) as executor:
        results, errors = by_position(executor.finished(_train_or_die, runs), len(runs))
    assert list(errors) == [1] and errors[1][0] == doomed and "worker running it died" in errors[1][1]
    assert numbers(results[:1] + results[2:]) == numbers(expected)


def test_losing_the_scheduler_mid_sweep_is_one_sentence(serial, monkeypatch):
    distributed = pytest.importorskip("distributed")
    from pynn.experiments import cluster as dask_cluster

    monkeypatch.setattr(dask_cluster, "CONNECT_SECONDS", 2)     # how long the client tries to reconnect
    configs, expected = serial
    local = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=":0", silence_logs=logging.CRITICAL)
    with dask_cluster.DaskExecutor(local.scheduler_address) as executor:
        runs = executor.finished(train_one, configs * 3)
        first = next(runs)
        local.close()                                        # the scheduler and its worker go away
        with pytest.raises(PynnError, match="connection to the Dask scheduler at .* was lost"):
            list(runs)
    assert numbers([first.result]) == numbers([expected[first.position % len(configs)]])


def test_a_run_that_kills_its_local_process_is_reported_and_the_others_complete(serial):
    configs, expected = serial
    runs = [configs[0], {**configs[0], "hidden": DOOMED}, *configs[1:]]
    results, errors = by_position(ProcessExecutor(2).finished(_train_or_die, runs), len(runs))
    assert list(errors) == [1] and errors[1][0]["hidden"] == DOOMED and "process running it died" in errors[1][1]
    assert numbers(results[:1] + results[2:]) == numbers(expected)


# -- results files and resuming ------------------------------------------------------------------------------

def test_an_interrupted_sweep_resumes_without_redoing_finished_runs(tmp_path, serial):
    configs, expected = serial
    path = tmp_path / "results.jsonl"
    with ResultStore(path) as store:
        runs = run_saved(train_one, configs, SerialExecutor(), store)
        next(runs), next(runs)
        runs.close()                                       # stopped after two runs
    with open(path, "ab") as f:
        f.write(b'{"config": {"hidden": 5, "se')           # a line cut short by the stop
    done = []

    def counting(config):
        done.append(config)
        return train_one(config)

    with ResultStore(path, resume=True) as store:
        assert len(store.saved) == 2
        results, errors = by_position(run_saved(counting, configs, SerialExecutor(), store), len(configs))
    assert done == configs[2:] and not errors and numbers(results) == numbers(expected)
    lines = path.read_bytes().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["result"]["hidden"] in (2, 5) for line in lines)


def test_saved_arrays_come_back_bit_for_bit(tmp_path):
    weights = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    with ResultStore(tmp_path / "r.jsonl") as store:
        store.add({"label": "a"}, {"weights": [weights], "accuracy": np.float32(0.5)})
    with ResultStore(tmp_path / "r.jsonl", resume=True) as store:
        back = store.get({"label": "a"})
    assert back["weights"][0].dtype == np.float32 and np.array_equal(back["weights"][0], weights)


def test_a_results_file_is_never_overwritten_or_misread(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"config": {"hidden": 2}, "result": {"hidden": 2}}\n')
    before = path.read_bytes()
    with pytest.raises(PynnError, match="already holds results; add --resume"):
        ResultStore(path)
    path.write_text(before.decode() + "not json\n" + before.decode())
    before = path.read_bytes()
    with pytest.raises(PynnError, match="Line 2 of .* is not a saved pynn run"):
        ResultStore(path, resume=True)
    assert path.read_bytes() == before


# -- grids --------------------------------------------------------------------------------------------------

def test_init_l2_and_lr_grids_cross_with_sizes_and_seeds_and_group_apart():
    configs = small_sweep(sizes=(2, 5), seeds=2, init=["lecun", "normal"], l2=[0.0, 5.0], lr=[0.5])
    assert len(configs) == 2 * 2 * 1 * 2 * 2
    assert len({json.dumps(c, sort_keys=True) for c in configs}) == len(configs)
    assert all(c["varies"] == ["init", "l2"] and c["lr"] == 0.5 for c in configs)   # one lr: set, not varied
    fake = [{**{k: c[k] for k in ("hidden", "seed", "init", "l2")}, "n_params": 1,
             "test_accuracy": 0.1 * c["seed"] + (c["init"] == "normal"), "train_accuracy": 0.5, "seconds": 1.0}
            for c in configs]
    rows = summarise(fake, ["init", "l2"])
    assert len(rows) == 8 and all(r["runs"] == 2 for r in rows)
    assert [(r["init"], r["l2"], r["hidden"]) for r in rows[:3]] == [("lecun", 0.0, 2), ("lecun", 0.0, 5),
                                                                      ("lecun", 5.0, 2)]
    assert {r["test_accuracy_mean"] for r in rows if r["init"] == "normal"} == {1.05}


def test_the_sweep_command_groups_by_every_grid_setting(capsys):
    args = ["sweep", "--hidden", "2", "--seeds", "1", "--epochs", "1", "--limit", "600", "--init", "lecun,normal",
            "--l2", "0,5", "--jobs", "2"]
    status, out, err = pynn(capsys, *args, "--json")
    result = json.loads(out)
    assert status == 0 and result["grid"] == {"init": ["lecun", "normal"], "l2": [0.0, 5.0]}
    assert result["run"]["lr"] is None and result["run"]["epochs"] == 1 and result["run"]["limit"] == 600
    assert [(r["init"], r["l2"]) for r in result["sizes"]] == [("lecun", 0.0), ("lecun", 5.0), ("normal", 0.0),
                                                              ("normal", 5.0)]
    out = pynn(capsys, *args)[1]
    assert "test accuracy: init normal, l2 5: mean over seeds" in out and "init lecun  l2 5" in out


# -- the command line: cluster, resume, mistakes ---------------------------------------------------------------

def test_sweep_on_a_cluster_equals_a_local_sweep_and_resumes_from_its_file(cluster, capsys, tmp_path):
    args = ["sweep", "--hidden", "2,3", "--seeds", "2", "--epochs", "1", "--limit", "600", "--json"]
    out = str(tmp_path / "results.jsonl")
    status, text, err = pynn(capsys, *args, "--cluster", cluster, "--out", out)
    assert status == 0, err
    remote, local = json.loads(text), json.loads(pynn(capsys, *args)[1])
    assert numbers(remote["runs"]) == numbers(local["runs"]) and remote["sizes"][0]["runs"] == 2
    with open(out) as f:
        kept = f.readlines()
    with open(out, "w") as f:
        f.writelines(kept[:3])                             # as if stopped after three runs
    status, text, err = pynn(capsys, *args, "--cluster", cluster, "--out", out, "--resume")
    resumed = json.loads(text)
    assert status == 0 and resumed["resumed"] == 3 and numbers(resumed["runs"]) == numbers(local["runs"])
    assert len(open(out).readlines()) == 4


def test_compare_on_a_cluster_equals_a_local_compare(cluster, capsys):
    args = ["compare", "--a", "init=normal", "--b", "l2=5", "--epochs", "1", "--limit", "600", "--json"]
    remote, local = (json.loads(pynn(capsys, *args, *extra)[1]) for extra in (["--cluster", cluster], []))
    assert remote["first_layer_maps"] == local["first_layer_maps"]
    assert [r["test_loss"] for r in remote["runs"]] == [r["test_loss"] for r in local["runs"]]


def test_the_sweep_command_reports_a_dead_run_and_shows_the_rest(capsys, monkeypatch):
    import pynn_tui.commands.sweep

    monkeypatch.setattr(pynn_tui.commands.sweep, "train_one", _train_or_die)
    args = ["sweep", "--hidden", f"2,{DOOMED}", "--seeds", "2", "--epochs", "1", "--limit", "600", "--jobs", "2"]
    status, out, err = pynn(capsys, *args, "--json")
    result = json.loads(out)
    assert status == 1 and [r["hidden"] for r in result["sizes"]] == [2] and len(result["runs"]) == 2
    assert sorted(f["config"]["seed"] for f in result["failed"]) == [0, 1]
    assert all(f["config"]["hidden"] == DOOMED and "died" in f["error"] for f in result["failed"])
    status, out, err = pynn(capsys, *args)
    assert status == 1 and f"failed: hidden {DOOMED}, seed 0: the process" in out
    assert err.count("run failed (hidden 3") == 2


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("extra,fragment", [
    (["--cluster", "my-scheduler"], "is not a scheduler address"),
    (["--cluster", f"tcp://127.0.0.1:{_free_port()}"], "No Dask scheduler answers at"),
    (["--cluster", "tls://127.0.0.1:8786"], "tcp:// only"),
    (["--l2", "0,lots"], "--l2 must be a number, not 'lots'"),
    (["--init", "lecun,zeros"], "--init must be one of lecun, normal, xavier, he, not 'zeros'"),
    (["--lr", "0,1"], "--lr must be a positive number"),
    (["--model", "784-30-10"], "--model must hold {h} where a sweep puts each hidden size"),
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--resume"], "give --out too"),
])
def test_run_mistakes_are_one_sentence_and_exit_2(capsys, extra, fragment):
    status, out, err = pynn(capsys, "sweep", "--hidden", "2", "--seeds", "1", "--epochs", "1", "--limit", "600",
                            *extra)
    assert status == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_a_cluster_without_dask_installed_names_the_extra(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # what `import distributed` sees without it
    status, out, err = pynn(capsys, "compare", "--a", "init=normal", "--b", "l2=5", "--cluster", "tcp://x:8786")
    assert status == 2 and "pip install 'pynn[dask]'" in err and len(err.strip().splitlines()) == 1


def test_nothing_imports_dask_without_cluster(tmp_path):
    code = ("import sys; import pynn; from pynn_tui.cli import main; "
            "status = main(['sweep', '--hidden', '2', '--seeds', '1', '--epochs', '1', '--limit', '300', '--json']); "
            "print(status, [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')])")
    # cwd away from the checkout, so `-c` imports the installed pynn, not a source tree without its core
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
