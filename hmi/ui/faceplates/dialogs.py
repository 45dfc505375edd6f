"""Confirmation and input dialogs for operator commands (write, shelve, out of service)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from hmi.ui.i18n import N_, tr

#: shelve durations offered (seconds; None = one-shot until it next returns to normal)
SHELVE_CHOICES = (
    (900.0, N_("15 min")),
    (3600.0, N_("1 h")),
    (4 * 3600.0, N_("4 h")),
    (8 * 3600.0, N_("8 h")),
    (None, N_("One-shot")),
)


class ConfirmWriteDialog(QDialog):
    """Second step of a command: the tag, its current and new value, who acts, interlock notes.

    Nothing is written until the operator presses *Execute*; the command service then
    checks everything again (the value must still be the one shown here).
    """

    def __init__(
        self,
        tag_label: str,
        tag_name: str,
        old: str,
        new: str,
        warning: str = "",
        parent: QWidget | None = None,
        *,
        who: str = "",
        notes: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("confirmWrite")
        self.setWindowTitle(tr("Confirm command"))
        lay = QVBoxLayout(self)
        head = QLabel(tr("Check the values, then execute the command."))
        head.setProperty("role", "section")
        lay.addWidget(head)
        form = QFormLayout()
        form.addRow(tr("Tag") + ":", QLabel(f"{tag_label}  ({tag_name})"))
        self.old = QLabel(old)
        self.old.setObjectName("oldValue")
        self.new = QLabel(new)
        self.new.setObjectName("newValue")
        self.new.setProperty("role", "value")
        form.addRow(tr("Current value") + ":", self.old)
        form.addRow(tr("New value") + ":", self.new)
        if who:
            self.who = QLabel(who)
            self.who.setObjectName("confirmWho")
            form.addRow(tr("Executed by") + ":", self.who)
        lay.addLayout(form)
        self.notes: list[QLabel] = []
        for text, state in ([(warning, "warn")] if warning else []) + list(notes or []):
            w = QLabel(text)
            w.setWordWrap(True)
            w.setProperty("role", "state")
            w.setProperty("state", state)
            self.notes.append(w)
            lay.addWidget(w)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.execute = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.execute.setText(tr("Execute"))
        self.execute.setObjectName("confirmExecute")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancel"))
        # Cancel has the focus: a stray Enter does not execute a command
        self.execute.setAutoDefault(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.setMinimumWidth(440)


class ReasonDialog(QDialog):
    """Asks for a required reason (taking an alarm out of service, returning it)."""

    def __init__(self, title: str, text: str, ok_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reasonDialog")
        self.setWindowTitle(title)
        lay = QVBoxLayout(self)
        head = QLabel(text)
        head.setWordWrap(True)
        lay.addWidget(head)
        self.reason = QLineEdit(self)
        self.reason.setObjectName("reasonText")
        self.reason.setPlaceholderText(tr("Reason (required)"))
        lay.addWidget(self.reason)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancel"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(
            lambda t: self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
                bool(t.strip())
            )
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        lay.addWidget(self.buttons)

    def value(self) -> str:
        """The reason entered."""
        return self.reason.text().strip()


class ShelveDialog(QDialog):
    """Asks for a shelve reason (required) and a duration."""

    def __init__(
        self, alarm_text: str, max_seconds: float | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("shelveDialog")
        self.setWindowTitle(tr("Shelve alarm"))
        lay = QVBoxLayout(self)
        head = QLabel(alarm_text)
        head.setWordWrap(True)
        lay.addWidget(head)
        form = QFormLayout()
        self.reason = QLineEdit(self)
        self.reason.setObjectName("shelveReason")
        self.reason.setPlaceholderText(tr("Why is this alarm shelved? (required)"))
        self.duration = QComboBox(self)
        self.duration.setObjectName("shelveDuration")
        for seconds, label in SHELVE_CHOICES:
            if seconds is None or max_seconds is None or seconds <= max_seconds:
                self.duration.addItem(tr(label), seconds)
        form.addRow(tr("Reason") + ":", self.reason)
        form.addRow(tr("Duration") + ":", self.duration)
        lay.addLayout(form)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(tr("Shelve"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancel"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(self._check)
        lay.addWidget(self.buttons)
        self._check()

    def _check(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(
            bool(self.reason.text().strip())
        )

    def values(self) -> tuple[str, float | None]:
        """(reason, duration seconds or None for one-shot)."""
        return self.reason.text().strip(), self.duration.currentData()
