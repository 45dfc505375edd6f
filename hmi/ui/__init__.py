"""The operator HMI (Qt). The only package that imports PySide6 and pyqtgraph.

Entry points: :func:`hmi.ui.app.run_gui` (the ``run``/``demo`` commands) and
:func:`hmi.ui.app.show_main_window` (tests, screenshots).
"""
