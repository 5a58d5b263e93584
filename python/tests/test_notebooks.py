"""The example notebooks run from top to bottom, so they never rot. The chapter notebooks each have a parameter
cell (tagged "parameters") that sets the small size run here, with `FULL = True` for the chapter's size, and
show their pictures inline."""
import glob
import os

import pytest

from conftest import fashion_mnist_or_skip

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
NOTEBOOKS = sorted(glob.glob(os.path.join(EXAMPLES, "*.ipynb")))

# One notebook per chapter of the material the project follows (README: "Notebooks").
CHAPTERS = ["dlwp_5_1_intro_to_convnets", "dlwp_5_2_small_dataset", "dlfs_7_convolution_and_pooling",
            "dlfs_8_deep_cnn", "lecture_cnn_architectures", "matlab_squeezenet_transfer_learning"]


def _read(path):
    nbformat = pytest.importorskip("nbformat")
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    fashion_mnist_or_skip()
    notebook = _read(path)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": EXAMPLES}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the notebook shows no picture inline"


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_notebook_has_a_parameter_cell(name):
    path = os.path.join(EXAMPLES, name + ".ipynb")
    assert os.path.exists(path), f"{name}.ipynb is missing"
    code = [c for c in _read(path).cells if c.cell_type == "code"]
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and parameters[0] is code[0], "the first code cell should be the parameter cell"
    assert "FULL = False" in parameters[0].source, "the parameter cell sets the CI size with FULL = False"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_is_stored_without_outputs(path):
    cells = [c for c in _read(path).cells if c.cell_type == "code"]
    assert not [c for c in cells if c.get("outputs") or c.get("execution_count")], "clear the outputs before committing"
