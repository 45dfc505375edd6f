"""Who is at the console: user menu, login / first-admin / password dialogs, idle logout, close guard.

:class:`Login` is installed on the main window by :func:`hmi.ui.app.show_main_window`:

* the header's user button opens the login dialog (logged out) or the user menu
  (change password, manage users, log out, close the HMI);
* logins and password changes run on a worker thread (scrypt takes about 0.4 s);
* every key press, click or wheel turn restarts the session's idle timer (an
  application event filter); a one-second timer drops an expired session to the viewer;
* closing the window from the window manager needs ``exit_application``: otherwise the
  operator is asked to log in. Programmatic closes (SIGTERM handler, tests, the checked
  *Close the HMI* action) are not spontaneous and pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from hmi.core.users import (
    Action,
    AuthError,
    Console,
    PasswordError,
    Session,
    StoreError,
    UserError,
    password_problems,
)
from hmi.ui.actions import Actions, needs_text, role_text
from hmi.ui.i18n import tr
from hmi.ui.tasks import run_in_pool

log = logging.getLogger(__name__)

IDLE_CHECK_MS = 1000
#: input that counts as operator activity (mouse moves do not: a nudged mouse is not a person)
ACTIVITY = frozenset(
    {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel, QEvent.Type.TouchBegin}
)


def _ask(box: QMessageBox) -> bool:
    return box.exec() == QMessageBox.StandardButton.Yes


def auth_message(error: BaseException, name: str = "") -> str:
    """What the operator reads when a login is refused (the same words for unknown name and wrong password)."""
    if isinstance(error, AuthError):
        if error.reason == "locked":
            until = (
                time.strftime("%H:%M:%S", time.localtime(error.locked_until))
                if error.locked_until
                else "?"
            )
            return tr("Too many failed logins: {user} is locked until {time}").format(
                user=name, time=until
            )
        if error.reason == "disabled":
            return tr("User {user} is disabled: ask the administrator").format(user=name)
        if error.reason == "lockdown":  # users.db was damaged: what the admin must do
            return tr("Logins are off (viewer only)") + ": " + str(error)
        return tr("Wrong user name or password")
    if isinstance(error, PasswordError):
        return tr("Password not accepted") + ": " + str(error)
    if isinstance(error, StoreError):
        return tr("The user database cannot be used") + ": " + str(error)
    return str(error)


class _FormDialog(QDialog):
    """A small form whose submit runs on a worker thread (hashing takes about 0.4 s)."""

    def __init__(self, console: Console, title: str, ok_text: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.console = console
        self.setWindowTitle(title)
        self.setModal(True)
        self.layout_ = QVBoxLayout(self)
        self.form = QFormLayout()
        self.layout_.addLayout(self.form)
        self.message = QLabel(self)
        self.message.setObjectName("loginMessage")
        self.message.setWordWrap(True)
        self.message.setProperty("role", "state")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.ok_button.setObjectName("loginOk")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(tr("Cancel"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.busy = False
        self.setMinimumWidth(400)

    def _finish_layout(self) -> None:
        self.layout_.addWidget(self.message)
        self.layout_.addWidget(self.buttons)

    def _field(self, label: str, name: str, secret: bool = True) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setObjectName(name)
        if secret:
            edit.setEchoMode(QLineEdit.EchoMode.Password)
        edit.setMaxLength(256)
        self.form.addRow(label + ":", edit)
        return edit

    def say(self, text: str, state: str = "bad") -> None:
        """Show a message under the form."""
        self.message.setText(text)
        self.message.setProperty("state", state)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)

    def run(self, fn: Callable[[], Any], done: Callable[[Any, BaseException | None], None]) -> None:
        """Run ``fn`` off the GUI thread; inputs are locked until ``done`` runs."""
        self.busy = True
        self.setEnabled(False)
        self.say(tr("Checking…"), "warn")

        def finished(result: Any, error: BaseException | None) -> None:
            self.busy = False
            self.setEnabled(True)
            done(result, error)

        run_in_pool(fn, finished)

    def submit(self) -> None:  # overridden
        """Check the form and start the request."""

    def reject(self) -> None:
        """Escape / Cancel: not while a request runs (its answer must find the dialog)."""
        if not self.busy:
            super().reject()


class LoginDialog(_FormDialog):
    """User name and password; a refusal is shown in the dialog (and audited by the store)."""

    sigLoggedIn = Signal(object)  # Session

    def __init__(self, console: Console, reason: str = "", parent: QWidget | None = None) -> None:
        super().__init__(console, tr("Log in"), tr("Log in"), parent)
        self.setObjectName("loginDialog")
        head = QLabel(tr("Log in to operate the station"), self)
        head.setProperty("role", "section")
        self.layout_.insertWidget(0, head)
        if reason:
            note = QLabel(reason, self)
            note.setObjectName("loginReason")
            note.setWordWrap(True)
            note.setProperty("role", "state")
            note.setProperty("state", "warn")
            self.layout_.insertWidget(1, note)
        self.name = self._field(tr("User name"), "loginName", secret=False)
        self.password = self._field(tr("Password"), "loginPassword")
        self._finish_layout()
        s = console.session
        if s.logged_in:
            self.say(
                tr("Logged in now: {user}. A new login replaces it.").format(user=s.user), "ok"
            )
        self.name.setFocus(Qt.FocusReason.OtherFocusReason)

    def submit(self) -> None:
        """Log in on a worker thread."""
        name, password = self.name.text().strip(), self.password.text()
        if not name or not password:
            self.say(tr("Enter user name and password"))
            return
        console = self.console

        def done(session: Any, error: BaseException | None) -> None:
            self.password.clear()
            if error is not None:
                self.say(auth_message(error, name))
                self.password.setFocus()
                return
            self.sigLoggedIn.emit(session)
            self.accept()

        self.run(lambda: console.login(name, password), done)


class CreateAdminDialog(_FormDialog):
    """First run: create the administrator (allowed without login only while none exists)."""

    sigLoggedIn = Signal(object)  # Session of the new admin

    def __init__(self, console: Console, parent: QWidget | None = None) -> None:
        super().__init__(console, tr("Create the administrator"), tr("Create and log in"), parent)
        self.setObjectName("createAdminDialog")
        intro = QLabel(
            tr(
                "This station has no administrator yet. Create one now: the administrator adds the operators and engineers."
            ),
            self,
        )
        intro.setWordWrap(True)
        self.layout_.insertWidget(0, intro)
        self.name = self._field(tr("User name"), "adminName", secret=False)
        self.name.setText("admin")
        self.password = self._field(tr("Password"), "adminPassword")
        self.repeat = self._field(tr("Repeat password"), "adminRepeat")
        rules = QLabel(password_rules(console), self)
        rules.setWordWrap(True)
        rules.setProperty("role", "dim")
        self.layout_.addWidget(rules)
        self._finish_layout()

    def submit(self) -> None:
        """Check the password rules here, then create and log in on a worker thread."""
        name, pw = self.name.text().strip(), self.password.text()
        problem = check_new(self.console, name, pw, self.repeat.text())
        if problem:
            self.say(problem)
            return
        console = self.console

        def create() -> Session:
            console.store.add_user(name, pw, "admin", by=console.session)
            return console.login(name, pw)

        def done(session: Any, error: BaseException | None) -> None:
            if error is not None:
                self.say(
                    auth_message(error, name)
                    if not isinstance(error, (UserError, PermissionError))
                    else str(error)
                )
                return
            self.sigLoggedIn.emit(session)
            self.accept()

        self.run(create, done)


class ChangePasswordDialog(_FormDialog):
    """The logged-in user changes their own password (the old one is checked like a login)."""

    sigChanged = Signal()

    def __init__(self, console: Console, parent: QWidget | None = None) -> None:
        super().__init__(console, tr("Change password"), tr("Change password"), parent)
        self.setObjectName("changePasswordDialog")
        self.user = console.session.user
        self.form.addRow(tr("User name") + ":", QLabel(self.user, self))
        self.old = self._field(tr("Current password"), "oldPassword")
        self.password = self._field(tr("New password"), "newPassword")
        self.repeat = self._field(tr("Repeat password"), "repeatPassword")
        rules = QLabel(password_rules(console), self)
        rules.setWordWrap(True)
        rules.setProperty("role", "dim")
        self.layout_.addWidget(rules)
        self._finish_layout()

    def submit(self) -> None:
        """Check here, then change on a worker thread."""
        problem = check_new(self.console, self.user, self.password.text(), self.repeat.text())
        if problem:
            self.say(problem)
            return
        store, user, old, new = self.console.store, self.user, self.old.text(), self.password.text()

        def done(_r: Any, error: BaseException | None) -> None:
            self.old.clear()
            if error is not None:
                self.say(auth_message(error, user))
                return
            self.sigChanged.emit()
            self.accept()

        self.run(lambda: store.change_own_password(user, old, new, self.console.origin), done)


def password_rules(console: Console) -> str:
    """The password rules in the current language."""
    n = getattr(getattr(console.store, "policy", None), "min_password_chars", 8)
    return tr(
        "At least {n} characters, two of letters / digits / other characters, not the user name, not a well-known password."
    ).format(n=n)


def check_new(console: Console, user: str, password: str, repeat: str) -> str:
    """Why a new password cannot be used ('' when it can)."""
    if password != repeat:
        return tr("The two passwords differ")
    n = getattr(getattr(console.store, "policy", None), "min_password_chars", 8)
    problems = password_problems(password, user, n)
    return (tr("Password not accepted") + ": " + "; ".join(problems)) if problems else ""


class Login(QObject):
    """The console's login state on the main window."""

    #: how yes/no questions are shown (tests replace it)
    ask: Callable[[QMessageBox], bool] = staticmethod(_ask)

    def __init__(
        self, window: Any, console: Console | None = None, idle_check_ms: int = IDLE_CHECK_MS
    ) -> None:
        super().__init__(window)
        self.window = window
        self.actions: Actions = window.actions
        if console is not None:
            self.actions.set_console(console)
        self.dialog: QWidget | None = None  # the open login-type dialog, if any
        self.menu: QMenu | None = None
        self._exit_allowed = False
        self._idle_pending = False
        header = window.header
        header.sigUser.connect(self.open_menu)
        self.actions.sigSessionChanged.connect(header.set_session)
        header.set_session(self.actions.session)
        self.timer = QTimer(self)
        self.timer.setObjectName("idleTimer")
        self.timer.timeout.connect(self.check_idle)
        self.timer.start(idle_check_ms)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        window.destroyed.connect(self._detach)

    def _detach(self, *_: Any) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    @property
    def console(self) -> Console | None:
        """The console whose session the HMI acts with."""
        return self.actions.console

    def _say(self, text: str, ok: bool = True) -> None:
        self.actions.sigMessage.emit(text, ok)

    # ------------------------------------------------------------------ activity and idle logout
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        """Operator input restarts the idle timer; a window-manager close is checked."""
        kind = event.type()
        if kind in ACTIVITY:
            c = self.actions.console
            if c is not None:
                s = c.session
                if s.logged_in and not s.expired():  # an expired session is logged out, not revived
                    c.touch()
        elif kind == QEvent.Type.Close and obj is self.window:
            return self._close_requested(event)
        return False

    def check_idle(self) -> None:
        """Timer: drop an expired session to the viewer (the audit row is written off the GUI thread)."""
        c = self.actions.console
        if c is None or self._idle_pending:
            return
        s = c.session
        if not (s.logged_in and s.expired()):
            return
        self._idle_pending = True
        self.actions.session_changed()  # its rights are already gone: re-gate at once
        minutes = s.idle_timeout / 60.0

        def done(logged_out: Any, error: BaseException | None) -> None:
            self._idle_pending = False
            self.actions.session_changed()
            if error is not None:
                log.error("automatic logout: %s", error)
            elif logged_out:
                self._say(
                    tr("{user} was logged out after {n} min without input").format(
                        user=s.user, n=f"{minutes:g}"
                    ),
                    True,
                )

        run_in_pool(c.check_idle, done)

    # ------------------------------------------------------------------ login / logout
    def show_login(
        self, reason: str = "", then: Callable[[Session], None] | None = None
    ) -> LoginDialog | None:
        """Open the login dialog (non-blocking); ``then(session)`` runs after a good login."""
        if self.console is None:
            self._say(tr("This station has no user database: nobody can log in"), False)
            return None
        dlg = LoginDialog(self.console, reason, self.window)
        dlg.sigLoggedIn.connect(lambda s: self._logged_in(s, then))
        self._open(dlg)
        return dlg

    def _open(self, dlg: Any) -> None:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = dlg
        dlg.finished.connect(
            lambda _r, d=dlg: setattr(self, "dialog", None) if self.dialog is d else None
        )
        dlg.open()

    def _logged_in(self, session: Session, then: Callable[[Session], None] | None) -> None:
        self.actions.session_changed()
        self._say(
            tr("{user} logged in ({role})").format(user=session.user, role=role_text(session.role)),
            True,
        )
        if then is not None:
            then(session)

    def login_in_background(self, name: str, password: str) -> None:
        """Log in without a dialog (the demo's operator at start-up)."""
        c = self.console
        if c is None:
            return

        def done(session: Any, error: BaseException | None) -> None:
            if error is not None:
                self._say(
                    tr("Automatic login of {user} failed: {error}").format(
                        user=name, error=auth_message(error, name)
                    ),
                    False,
                )
                return
            self._logged_in(session, None)

        run_in_pool(lambda: c.login(name, password), done)

    def logout(self) -> None:
        """Log out: the console drops to the viewer (audited)."""
        c = self.console
        if c is None or not c.session.logged_in:
            return
        user = c.session.user

        def done(_r: Any, error: BaseException | None) -> None:
            self.actions.session_changed()
            if error is not None:
                self._say(f"{tr('Log out')}: {error}", False)
            else:
                self._say(tr("{user} logged out").format(user=user), True)

        run_in_pool(lambda: c.logout("user"), done)

    def change_password(self) -> ChangePasswordDialog | None:
        """Let the logged-in user change their own password."""
        c = self.console
        if c is None or not c.session.logged_in:
            return None
        dlg = ChangePasswordDialog(c, self.window)
        dlg.sigChanged.connect(lambda: self._say(tr("Password changed"), True))
        self._open(dlg)
        return dlg

    def offer_first_admin(self) -> CreateAdminDialog | None:
        """First run (no enabled admin yet): offer to create the administrator."""
        c = self.console
        try:
            needed = c is not None and c.store.needs_first_admin()
        except Exception as exc:  # unreadable users.db: say so, keep the screens live
            self._say(f"{tr('The user database cannot be used')}: {exc}", False)
            return None
        if not needed:
            return None
        assert c is not None
        dlg = CreateAdminDialog(c, self.window)
        dlg.sigLoggedIn.connect(lambda s: self._logged_in(s, None))
        self._open(dlg)
        return dlg

    def manage_users(self) -> Any:
        """The user-management dialog (admins)."""
        if not self.actions.can(Action.EDIT_USERS) or self.console is None:
            self._say(needs_text(Action.EDIT_USERS, self.actions.session), False)
            return None
        from hmi.ui.users_page import UsersPage

        dlg = UsersPage(self.actions, self.window)
        self._open(dlg)
        return dlg

    # ------------------------------------------------------------------ user menu
    def open_menu(self) -> Any:
        """Header user button: the login dialog when logged out, else the user menu."""
        s = self.actions.session
        if not s.logged_in:
            return self.show_login()
        menu = QMenu(self.window.header.user)
        menu.setObjectName("userMenu")
        head = menu.addAction(f"{s.user} · {role_text(s.role)}")
        head.setEnabled(False)
        menu.addSeparator()
        menu.addAction(tr("Log in as another user…"), lambda: self.show_login())
        menu.addAction(tr("Change password…"), self.change_password)
        if s.can(Action.EDIT_USERS):
            menu.addAction(tr("Manage users…"), self.manage_users)
        if getattr(self.window, "training", None) is not None:
            self.window.training.add_menu_entry(menu, s)
        menu.addAction(tr("Log out"), self.logout)
        menu.addSeparator()
        menu.addAction(tr("Close the HMI…"), self.request_exit)
        self.menu = menu
        button = self.window.header.user
        menu.popup(button.mapToGlobal(QPoint(0, button.height())))
        return menu

    # ------------------------------------------------------------------ closing the HMI
    def _close_requested(self, event: QEvent) -> bool:
        """A close of the main window: True swallows it (not permitted yet)."""
        if self._exit_allowed or not event.spontaneous():
            return False  # checked exit, SIGTERM handler, tests
        event.ignore()
        QTimer.singleShot(0, self.request_exit)
        return True

    def request_exit(self) -> None:
        """Close the HMI: needs exit_application (log in first otherwise), confirmed and audited."""
        if not self.actions.can(Action.EXIT_APPLICATION):
            self.show_login(
                needs_text(Action.EXIT_APPLICATION, self.actions.session),
                then=self._exit_after_login,
            )
            return
        self._confirm_exit()

    def _exit_after_login(self, session: Session) -> None:
        if session.can(Action.EXIT_APPLICATION):
            QTimer.singleShot(0, self._confirm_exit)
        else:
            self._say(needs_text(Action.EXIT_APPLICATION, session), False)

    def _confirm_exit(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            tr("Close the HMI"),
            tr(
                "Close the HMI? The station runtime stops and nobody watches the station from this console."
            ),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self.window,
        )
        box.setObjectName("exitQuestion")
        box.button(QMessageBox.StandardButton.Yes).setText(tr("Close the HMI"))
        box.button(QMessageBox.StandardButton.No).setText(tr("Cancel"))
        box.setDefaultButton(QMessageBox.StandardButton.No)
        if not self.ask(box):
            return

        def done(allowed: bool, text: str) -> None:
            if not allowed:
                self._say(text, False)
                return
            log.info("HMI closed by %s", self.actions.user)
            self._exit_allowed = True
            self.window.close()

        self.actions.exit_check(done)
