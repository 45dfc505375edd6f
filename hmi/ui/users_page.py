"""User management for administrators: list, add, role, enable / disable, new password.

Every change goes to :class:`~hmi.core.users.UserStore` with the console's session,
so the store checks ``edit_users`` again and writes the audit row; the requests run on a
worker thread (a password hash takes about 0.4 s). Users are never deleted: the audit
trail names them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from hmi.core.users import Role
from hmi.ui.actions import Actions, role_text
from hmi.ui.i18n import N_, tr
from hmi.ui.login import auth_message, check_new, password_rules
from hmi.ui.tasks import run_in_pool
from hmi.ui.theme import restyle

COLUMNS = (N_("User name"), N_("Role"), N_("Enabled"), N_("Last login"), N_("Locked until"))


class _PasswordDialog(QDialog):
    """Name (when adding), role (when adding), password twice."""

    def __init__(
        self, title: str, actions: Actions, name: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.ops = actions
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.name = QLineEdit(name, self)
        self.name.setReadOnly(bool(name))
        self.role = QComboBox(self)
        for r in Role:
            if r is not Role.VIEWER:
                self.role.addItem(role_text(r), r.label)
        self.password = QLineEdit(self)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit(self)
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(tr("User name") + ":", self.name)
        if not name:
            form.addRow(tr("Role") + ":", self.role)
        form.addRow(tr("Password") + ":", self.password)
        form.addRow(tr("Repeat password") + ":", self.repeat)
        lay.addLayout(form)
        console = actions.console
        rules = QLabel(password_rules(console) if console is not None else "", self)
        rules.setWordWrap(True)
        rules.setProperty("role", "dim")
        lay.addWidget(rules)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setProperty("role", "state")
        lay.addWidget(self.message)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancel"))
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def _check(self) -> None:
        console = self.ops.console
        problem = (
            check_new(console, self.name.text().strip(), self.password.text(), self.repeat.text())
            if console is not None
            else ""
        )
        if not self.name.text().strip():
            problem = tr("Enter user name and password")
        if problem:
            self.message.setText(problem)
            restyle(self.message, state="bad")
            return
        self.accept()


class UsersPage(QDialog):
    """The station's users (admins only; the store re-checks every change)."""

    #: how the add / password dialogs are shown (tests replace it)
    confirm: Callable[[QDialog], bool] = staticmethod(
        lambda d: d.exec() == QDialog.DialogCode.Accepted
    )

    def __init__(self, actions: Actions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("usersPage")
        self.setWindowTitle(tr("Manage users…").rstrip("…"))
        self.ops = actions
        self.store = actions.console.store if actions.console is not None else None
        lay = QVBoxLayout(self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("usersTable")
        self.table.setHorizontalHeaderLabels([tr(c) for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.b_add = QPushButton(tr("Add user…"), self)
        self.b_add.clicked.connect(self.add_user)
        self.role = QComboBox(self)
        for r in Role:
            if r is not Role.VIEWER:
                self.role.addItem(role_text(r), r.label)
        self.b_role = QPushButton(tr("Set role"), self)
        self.b_role.clicked.connect(lambda: self._change("role"))
        self.b_enable = QPushButton(tr("Enable"), self)
        self.b_enable.clicked.connect(lambda: self._change("enable"))
        self.b_disable = QPushButton(tr("Disable"), self)
        self.b_disable.clicked.connect(lambda: self._change("disable"))
        self.b_password = QPushButton(tr("New password…"), self)
        self.b_password.clicked.connect(self.new_password)
        for w in (
            self.b_add,
            self.role,
            self.b_role,
            self.b_enable,
            self.b_disable,
            self.b_password,
        ):
            row.addWidget(w)
        row.addStretch(1)
        lay.addLayout(row)
        self.message = QLabel(self)
        self.message.setObjectName("usersMessage")
        self.message.setWordWrap(True)
        self.message.setProperty("role", "state")
        lay.addWidget(self.message)
        close = QPushButton(tr("Close"), self)
        close.clicked.connect(self.accept)
        lay.addWidget(close)
        self.resize(760, 420)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the user list (a small table: read on the GUI thread)."""
        users = self.store.list_users() if self.store is not None else []
        self.table.setRowCount(len(users))
        now = time.time()
        for r, u in enumerate(users):
            cells = (
                u.name,
                role_text(u.role),
                tr("yes") if u.enabled else tr("no"),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(u.last_login))
                if u.last_login
                else "",
                time.strftime("%H:%M:%S", time.localtime(u.locked_until))
                if u.locked(now) and u.locked_until
                else "",
            )
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))

    def selected(self) -> str:
        """Name of the selected user ('' when none)."""
        rows = self.table.selectionModel().selectedRows()
        item = self.table.item(rows[0].row(), 0) if rows else None
        return item.text() if item is not None else ""

    def _run(self, what: str, fn: Callable[[], Any]) -> None:
        def done(_r: Any, error: BaseException | None) -> None:
            self.setEnabled(True)
            text = f"{what}: {auth_message(error) if error is not None else tr('done')}"
            self.message.setText(text)
            restyle(self.message, state="bad" if error is not None else "ok")
            self.refresh()

        self.setEnabled(False)
        run_in_pool(fn, done)

    def add_user(self) -> None:
        """Ask for name, role and password; the store checks the admin right and audits."""
        dlg = _PasswordDialog(tr("Add user…").rstrip("…"), self.ops, parent=self)
        if self.store is None or not self.confirm(dlg):
            return
        store, session = self.store, self.ops.session
        name, role, pw = dlg.name.text().strip(), dlg.role.currentData(), dlg.password.text()
        self._run(
            tr("Add user…").rstrip("…") + f" {name}",
            lambda: store.add_user(name, pw, role, by=session),
        )

    def new_password(self) -> None:
        """Set a new password for the selected user (ends a lockout)."""
        name = self.selected()
        if not name or self.store is None:
            return
        dlg = _PasswordDialog(tr("New password…").rstrip("…"), self.ops, name, self)
        if not self.confirm(dlg):
            return
        store, session, pw = self.store, self.ops.session, dlg.password.text()
        self._run(
            tr("New password…").rstrip("…") + f" {name}",
            lambda: store.set_password(name, pw, by=session),
        )

    def _change(self, what: str) -> None:
        name = self.selected()
        if not name or self.store is None:
            return
        store, session = self.store, self.ops.session
        if what == "role":
            role = self.role.currentData()
            self._run(tr("Set role") + f" {name}", lambda: store.set_role(name, role, by=session))
        else:
            on = what == "enable"
            self._run(
                (tr("Enable") if on else tr("Disable")) + f" {name}",
                lambda: store.set_enabled(name, on, by=session),
            )
