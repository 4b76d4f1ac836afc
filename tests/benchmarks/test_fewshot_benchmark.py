"""The few-shot solver benchmark (benchmarks/fewshot.py): lgp's L-BFGS and scikit-learn reach the same optimum."""


def test_fewshot_benchmark_reaches_the_same_optimum_as_scikit_learn(run_tool) -> None:
    """A small problem: lgp's L-BFGS and scikit-learn stop at the same objective and predictions."""
    args = ['--train', '400', '--val', '200', '--dims', '32', '--classes', '10', '--noise', '2', '--no-gpu']
    out = run_tool(['benchmarks/fewshot.py', *args]).stdout
    assert 'command: python benchmarks/fewshot.py --train 400' in out and 'machine: CPU:' in out
    header = next(line for line in out.splitlines() if line.startswith('| solver'))
    columns = [c.strip() for c in header.split('|')]
    rows = {
        cells[1]: dict(zip(columns, cells, strict=True))
        for line in out.splitlines()
        if line.startswith('| ') and not line.startswith('| solver')
        for cells in [[c.strip() for c in line.split('|')]]
    }
    lgp_row, sklearn_row = rows['lgp L-BFGS'], rows['scikit-learn lbfgs']
    assert float(sklearn_row['time ratio / scikit-learn']) == 1.0
    assert float(lgp_row['time ratio / scikit-learn']) > 0
    for row in (lgp_row, sklearn_row):
        assert float(row['F(W) - F*']) < 1e-8 and float(row['max abs dF/dW']) <= 1e-9
    assert lgp_row['val top-1'] == sklearn_row['val top-1']
