; Inno Setup 6 script: a per-user installer for DysmorphDesk (no administrator rights).
; Built by `python installer/build.py` on Windows, which passes:
;   /DAppVersion=<version> /DSourceDir=<installer\dist\DysmorphDesk> /DIconFile=<...\dysmorph-desk.ico>
; Installs to %LOCALAPPDATA%\Programs\DysmorphDesk, with a Start-menu entry for the windowed
; DysmorphDesk.exe (no console window) and, for the command line, dysmorph-desk.exe in the same
; folder (optionally added to the user's PATH).
; Signing: set SignTool in the Inno Setup IDE or pass /S"signtool=signtool sign /fd sha256 /tr
; http://timestamp.example /td sha256 /f <YOUR-CERTIFICATE.pfx> /p <PASSWORD> $f" and uncomment
; the SignTool line below (see installer/README.md).

#ifndef AppVersion
  #error Pass /DAppVersion=<version> (installer/build.py does)
#endif
#ifndef SourceDir
  #error Pass /DSourceDir=<the frozen DysmorphDesk folder> (installer/build.py does)
#endif

[Setup]
AppId={{8E4C2B61-5D0F-4C47-9B7E-2D6A1F3C9E10}
AppName=DysmorphDesk
AppVersion={#AppVersion}
AppVerName=DysmorphDesk {#AppVersion}
AppPublisher=The DysmorphDesk developers
DefaultDirName={localappdata}\Programs\DysmorphDesk
DefaultGroupName=DysmorphDesk
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputBaseFilename=DysmorphDesk-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\DysmorphDesk.exe
ChangesEnvironment=yes
#ifdef IconFile
SetupIconFile={#IconFile}
#endif
; SignTool=signtool

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add dysmorph-desk (the command line) to my PATH"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\DysmorphDesk"; Filename: "{app}\DysmorphDesk.exe"; Comment: "Offline facial screening aid (not a diagnosis)"
Name: "{group}\Third-party licences"; Filename: "{app}\THIRD_PARTY_LICENSES.txt"
Name: "{group}\Uninstall DysmorphDesk"; Filename: "{uninstallexe}"
Name: "{userdesktop}\DysmorphDesk"; Filename: "{app}\DysmorphDesk.exe"; Tasks: desktopicon

[Registry]
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\DysmorphDesk.exe"; Description: "{cm:LaunchProgram,DysmorphDesk}"; Flags: nowait postinstall skipifsilent

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Path: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path) then
    Path := '';
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;
