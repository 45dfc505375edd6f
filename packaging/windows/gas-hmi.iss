; Inno Setup 6 script of a per-station gas-hmi installer.
;
; Built on Windows by packaging\build.py after PyInstaller, which passes the defines:
;   ISCC.exe /DAppName=gas-hmi-<station>-<version> /DStation=<station> /DStationName="..."
;            /DVersion=<version> /DSourceDir=dist\gas-hmi-<station>-<version> /DOutputDir=dist
;            packaging\windows\gas-hmi.iss
; Output: dist\gas-hmi-<station>-<version>-setup.exe
;
; Installs per machine into Program Files\gas-hmi\<station>. Each Windows user's data
; (history, alarms, users, logs) stays in %LOCALAPPDATA%\gas-hmi\<station> and is never
; removed by an upgrade or an uninstall. Secrets go to the Windows Credential Manager of
; the user who runs the HMI ("gas-hmi secrets set" as that user).

#ifndef Station
  #error Pass /DStation=<station id> (packaging\build.py does)
#endif
#ifndef Version
  #define Version "0.0.0"
#endif
#ifndef AppName
  #define AppName "gas-hmi-" + Station + "-" + Version
#endif
#ifndef StationName
  #define StationName Station
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\" + AppName
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#define StationDir "{app}\_internal\station_configs\" + Station

[Setup]
; one AppId per station: a newer version of the same station upgrades in place,
; two stations can be installed side by side
AppId=gas-hmi-{#Station}
AppName=gas-hmi {#StationName}
AppVersion={#Version}
AppVerName=gas-hmi {#StationName} {#Version}
AppPublisher=gas-hmi
DefaultDirName={autopf}\gas-hmi\{#Station}
DefaultGroupName=gas-hmi {#StationName}
DisableProgramGroupPage=yes
UsePreviousAppDir=yes
OutputDir={#OutputDir}
OutputBaseFilename={#AppName}-setup
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequired=admin
WizardStyle=modern
UninstallDisplayIcon={app}\gas-hmi-gui.exe
; a running HMI holds its files: ask to close it before upgrading
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"
Name: "zh"; MessagesFile: "compiler:Languages\ChineseSimplified.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"
Name: "autostart"; Description: "Start the HMI when a user logs on"; GroupDescription: "Autostart:"; Flags: unchecked

[InstallDelete]
; an upgrade replaces the program files wholesale (no stale modules from the old version)
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\gas-hmi {#StationName}"; Filename: "{app}\gas-hmi-gui.exe"; Parameters: "run ""{#StationDir}"""; WorkingDir: "{app}"
Name: "{group}\Self-test"; Filename: "{cmd}"; Parameters: "/k """"{app}\gas-hmi.exe"" --self-test"""; WorkingDir: "{app}"
Name: "{group}\Command prompt (gas-hmi)"; Filename: "{cmd}"; Parameters: "/k cd /d ""{app}"" && gas-hmi.exe --help"; WorkingDir: "{app}"
Name: "{group}\Uninstall"; Filename: "{uninstallexe}"
Name: "{autodesktop}\gas-hmi {#StationName}"; Filename: "{app}\gas-hmi-gui.exe"; Parameters: "run ""{#StationDir}"""; WorkingDir: "{app}"; Tasks: desktopicon
Name: "{commonstartup}\gas-hmi {#StationName}"; Filename: "{app}\gas-hmi-gui.exe"; Parameters: "run ""{#StationDir}"""; WorkingDir: "{app}"; Tasks: autostart

[Run]
; the installer checks what it installed (offscreen Qt, fonts, config) before finishing
Filename: "{app}\gas-hmi.exe"; Parameters: "--self-test --no-gui"; StatusMsg: "Checking the installation..."; Flags: runhidden waituntilterminated
Filename: "{app}\gas-hmi-gui.exe"; Parameters: "run ""{#StationDir}"""; Description: "Start the HMI now"; Flags: postinstall nowait skipifsilent unchecked
