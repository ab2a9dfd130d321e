// A Key Vault (RBAC authorization, soft delete and purge protection). main.bicep deploys two: the gateway's own
// secrets (signing keys, portal secrets, legacy UPSTREAM_SECRET_* values; the app only reads them) and the
// tenants' provider secrets (the app writes them as operators enter them).

@description('Required. Name of the Key Vault (3-24 letters, digits and dashes).')
@minLength(3)
@maxLength(24)
param name string

@description('Optional. Azure region of the Key Vault.')
param location string = resourceGroup().location

@description('Optional. Days a deleted vault or secret stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('Optional. Tags applied to the Key Vault.')
param tags object = {}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:App Service resolves Key Vault references over the public endpoint when the app has no virtual network; access is RBAC-only.
  // checkov:skip=CKV_AZURE_189:Public network access stays on for the same reason; every data-plane call needs an Entra identity with a Key Vault role.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

@description('Resource name of the Key Vault.')
output name string = keyVault.name

@description('Vault URI (https://<name>.vault.azure.net/).')
output uri string = keyVault.properties.vaultUri
