"""Trend building blocks: pen data, history fetching, envelope, axes, cursor, range bar,
pen table, tag picker, saved groups and export. :class:`hmi.ui.widgets.trend.TrendPlot`
draws; :class:`hmi.ui.trends.view.TrendView` puts a plot, its range bar and its pen table
together for the trends page and the faceplates."""
