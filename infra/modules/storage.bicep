// Storage account for the Functions host (AzureWebJobsStorage) and the registry tables, reached only with Entra identities.

@description('Required. Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Optional. Azure region of the storage account.')
param location string = resourceGroup().location

@description('Optional. Replication of the storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSku string = 'Standard_GRS'

@description('Optional. Registry tables the template creates.')
param tableNames array = [
  'Clients'
  'Tenants'
  'PortalState'
  'UsedAssertions'
]

@description('Optional. Blob container Flex Consumption deploys the app package to (read with the app\'s identity).')
param deploymentContainerName string = 'app-package'

@description('Optional. Tags applied to the storage account.')
param tags object = {}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:The Function App has no virtual network; access is limited by Entra RBAC instead, with shared keys disabled.
  // checkov:skip=CKV_AZURE_59:The Function App has no virtual network and reaches storage over its public endpoint with its managed identity.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: storageSku
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Every caller (Functions host, gateway, admin CLI) authenticates with Entra ID.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storageAccount
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Private, like every container here: the app reads its package with its identity (Storage Blob Data Owner).
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storageAccount
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

@description('Resource name of the storage account.')
output name string = storageAccount.name

@description('URL of the deployment package container (Flex Consumption).')
output deploymentContainerUrl string = '${storageAccount.properties.primaryEndpoints.blob}${deploymentContainer.name}'

@description('Table service endpoint (https://<account>.table.<suffix>/) without the trailing slash.')
output tableEndpoint string = 'https://${storageAccount.name}.table.${environment().suffixes.storage}'
