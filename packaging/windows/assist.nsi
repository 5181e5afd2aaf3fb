; Assist installer for Windows (NSIS 3): Start-menu and desktop shortcuts, per-user or machine-wide install,
; an uninstaller that keeps the user's data unless asked, and a silent mode for IT:
;   assist-setup.exe /S                 (per-user, silent)
;   assist-setup.exe /S /ALLUSERS       (machine-wide, silent; needs an elevated prompt)
;   uninstall.exe /S [/REMOVEDATA]      (silent removal; /REMOVEDATA also deletes the user's %LOCALAPPDATA%\Assist;
;                                        an interactive uninstall asks, "No" by default)
; Build: makensis /DVERSION=0.1.0 /DBUNDLE=build\pyi\dist\assist /DOUT=build\assist-0.1.0-setup.exe packaging\windows\assist.nsi
Unicode true
!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"

!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef BUNDLE
  !define BUNDLE "..\..\build\pyi\dist\assist"
!endif
!ifndef OUT
  !define OUT "assist-${VERSION}-setup.exe"
!endif

Name "Assist ${VERSION}"
OutFile "${OUT}"
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\Assist"
SetCompressor /SOLID lzma

!define MUI_ABORTWARNING
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Var AllUsers

Function .onInit
  StrCpy $AllUsers "0"
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/ALLUSERS" $R1
  ${IfNot} ${Errors}
    StrCpy $AllUsers "1"
    SetShellVarContext all
    StrCpy $INSTDIR "$PROGRAMFILES64\Assist"
  ${EndIf}
FunctionEnd

Section "Assist" Main
  SetOutPath "$INSTDIR"
  File /r "${BUNDLE}\*.*"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateDirectory "$SMPROGRAMS\Assist"
  CreateShortcut "$SMPROGRAMS\Assist\Assist.lnk" "$INSTDIR\assist.exe"
  CreateShortcut "$SMPROGRAMS\Assist\Uninstall Assist.lnk" "$INSTDIR\uninstall.exe"
  CreateShortcut "$DESKTOP\Assist.lnk" "$INSTDIR\assist.exe"
  ${If} $AllUsers == "1"
    StrCpy $R2 "HKLM"
    WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist" "DisplayName" "Assist"
    WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist" "DisplayVersion" "${VERSION}"
    WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist" "UninstallString" '"$INSTDIR\uninstall.exe" /ALLUSERS'
    WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S /ALLUSERS'
    WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist" "InstallLocation" "$INSTDIR"
  ${Else}
    WriteRegStr HKCU "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist" "DisplayName" "Assist"
    WriteRegStr HKCU "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist" "DisplayVersion" "${VERSION}"
    WriteRegStr HKCU "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist" "UninstallString" '"$INSTDIR\uninstall.exe"'
    WriteRegStr HKCU "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
    WriteRegStr HKCU "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist" "InstallLocation" "$INSTDIR"
  ${EndIf}
SectionEnd

Function un.onInit
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/ALLUSERS" $R1
  ${IfNot} ${Errors}
    SetShellVarContext all
  ${EndIf}
FunctionEnd

Section "Uninstall"
  Delete "$DESKTOP\Assist.lnk"
  RMDir /r "$SMPROGRAMS\Assist"
  RMDir /r "$INSTDIR"
  DeleteRegKey HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist"
  DeleteRegKey HKCU "Software\Microsoft\Windows\CurrentVersion\Uninstall\Assist"
  ; the journal, settings and knowledge base are the user's: kept unless /REMOVEDATA is given or, in an
  ; interactive uninstall, the user says yes (the default answer keeps them; a silent /S uninstall never asks)
  ; (the data is per user: back to the current user's folders, also after a machine-wide uninstall)
  SetShellVarContext current
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/REMOVEDATA" $R1
  ${IfNot} ${Errors}
    RMDir /r "$LOCALAPPDATA\Assist"
  ${Else}
    MessageBox MB_YESNO|MB_ICONQUESTION|MB_DEFBUTTON2 "Also delete your Assist data (the journal of every session, \
      the knowledge base, macros, settings and logs in $LOCALAPPDATA\Assist)?$\n$\nChoose No to keep them for a \
      later install." /SD IDNO IDNO keep
    RMDir /r "$LOCALAPPDATA\Assist"
    keep:
  ${EndIf}
SectionEnd
