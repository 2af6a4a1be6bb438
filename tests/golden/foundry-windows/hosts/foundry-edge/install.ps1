#Requires -RunAsAdministrator
# Foundry Local 0.10.3 for foundry-edge: serves Phi-4-mini-instruct (alias phi-4-mini)
# on 127.0.0.1:5273.
# Foundry Local has no built-in authentication: it listens on loopback only.
# Run in an elevated PowerShell from the account that will own the models and run the service.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Version = '0.10.3'
$ReleaseUrl = 'https://github.com/microsoft/Foundry-Local/releases/download/cli-preview-0.10.3'
$Alias = 'phi-4-mini'
$Port = 5273
$TaskName = 'slm-foundry-edge'
$StateDir = Join-Path $env:ProgramData 'slm-deploy\foundry-edge'

$Arch = if ($env:PROCESSOR_ARCHITECTURE -eq 'ARM64') { 'arm64' } else { 'x64' }
$Asset = "foundry-$Version-win-$Arch-winml.msix"

function Invoke-Foundry {
    param([Parameter(ValueFromRemainingArguments = $true)][string[]] $Arguments)
    & $script:Foundry @Arguments
    if ($LASTEXITCODE -ne 0) { throw "foundry $($Arguments -join ' ') failed (exit $LASTEXITCODE)" }
}

# The pinned release from its GitHub release, signed by Microsoft (and matching the digest, when given).
$Installed = Get-Command foundry -ErrorAction SilentlyContinue
if (-not $Installed -or -not ((& $Installed.Source --version) -match [regex]::Escape($Version))) {
    $Download = Join-Path $env:TEMP $Asset
    Invoke-WebRequest -Uri "$ReleaseUrl/$Asset" -OutFile $Download -UseBasicParsing
    if ($env:FOUNDRY_SHA256 -and (Get-FileHash -Algorithm SHA256 $Download).Hash -ne $env:FOUNDRY_SHA256.ToUpperInvariant()) {
        throw "$Asset does not match FOUNDRY_SHA256"
    }
    $Signature = Get-AuthenticodeSignature -FilePath $Download
    if ($Signature.Status -ne 'Valid' -or $Signature.SignerCertificate.Subject -notmatch 'O=Microsoft Corporation') {
        throw "$Asset is not signed by Microsoft Corporation; refusing to install it"
    }
    Add-AppxPackage -Path $Download
    Remove-Item $Download
}
$Foundry = (Get-Command foundry).Source
Invoke-Foundry --version

# The daemon on a fixed loopback port with no idle timeout, then the model downloaded and loaded; the same
# script runs at every boot from a scheduled task, as this account, without storing its password.
New-Item -ItemType Directory -Force -Path $StateDir | Out-Null
$StartScript = Join-Path $StateDir 'start-foundry.ps1'
@"
`$ErrorActionPreference = 'Stop'
& '$Foundry' server start --port $Port --idle-timeout 0
if (`$LASTEXITCODE -ne 0) { exit `$LASTEXITCODE }
& '$Foundry' model download '$Alias'
if (`$LASTEXITCODE -ne 0) { exit `$LASTEXITCODE }
& '$Foundry' model load '$Alias'
exit `$LASTEXITCODE
"@ | Set-Content -Encoding UTF8 -Path $StartScript

$Action = New-ScheduledTaskAction -Execute 'powershell.exe' `
    -Argument "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$StartScript`""
$Trigger = New-ScheduledTaskTrigger -AtStartup
$Principal = New-ScheduledTaskPrincipal -UserId "$env:USERDOMAIN\$env:USERNAME" -LogonType S4U -RunLevel Limited
$Settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -RestartCount 3 -RestartInterval (New-TimeSpan -Minutes 1) `
    -ExecutionTimeLimit (New-TimeSpan -Hours 2)
Register-ScheduledTask -TaskName $TaskName -Action $Action -Trigger $Trigger -Principal $Principal `
    -Settings $Settings -Force | Out-Null
Start-ScheduledTask -TaskName $TaskName

# Loopback only: no port proxy and no inbound firewall rule.

Invoke-Foundry server status
Write-Output "OpenAI-compatible endpoint: http://127.0.0.1:5273/v1"
