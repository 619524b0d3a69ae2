"""Reports: the paper's numbers as data (``paper``), figures, and the tables of our runs."""
from infimed_lib.report.paper import (
    BENCHMARK_COLUMNS, BENCHMARK_TO_COLUMN, check_reported_averages, load_paper_table, paper_table_source, plot_ablation,
    plot_benchmark_heatmap, plot_main_results, plot_pipeline,
)

__all__ = ["BENCHMARK_COLUMNS", "BENCHMARK_TO_COLUMN", "check_reported_averages", "load_paper_table", "paper_table_source", "plot_ablation",
           "plot_benchmark_heatmap", "plot_main_results", "plot_pipeline"]
