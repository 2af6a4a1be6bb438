#Requires -RunAsAdministrator
# Foundry Local for foundry-edge: serves Phi-4-mini-instruct (alias phi-4-mini) on 0.0.0.0:5273.
# Foundry Local has no built-in authentication: keep it on loopback, or admit only the client networks below.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Alias = 'phi-4-mini'
$ListenAddress = '0.0.0.0'
$Port = 5273
$RuleName = 'slm-deploy-foundry-edge'

if (-not (Get-Command foundry -ErrorAction SilentlyContinue)) {
    winget install --id Microsoft.FoundryLocal --exact --silent --accept-package-agreements --accept-source-agreements
    if ($LASTEXITCODE -ne 0) { throw "winget could not install Microsoft.FoundryLocal (exit $LASTEXITCODE)" }
}

# A fixed address and port instead of the dynamic default, so clients and the firewall rule can name them.
foundry service set --host $ListenAddress --port $Port
if ($LASTEXITCODE -ne 0) { throw "foundry service set failed (exit $LASTEXITCODE)" }
foundry service restart
foundry model download $Alias
if ($LASTEXITCODE -ne 0) { throw "foundry model download $Alias failed (exit $LASTEXITCODE)" }
foundry model load $Alias
if ($LASTEXITCODE -ne 0) { throw "foundry model load $Alias failed (exit $LASTEXITCODE)" }

Get-NetFirewallRule -Name $RuleName -ErrorAction SilentlyContinue | Remove-NetFirewallRule
New-NetFirewallRule -Name $RuleName -DisplayName "slm-deploy foundry-edge (Foundry Local)" `
    -Direction Inbound -Action Allow -Protocol TCP -LocalPort $Port `
    -RemoteAddress @('10.20.0.0/24') `
    -Profile Domain,Private | Out-Null

foundry service status
