// User-assigned managed identity of the Function App: it exists before the app, so its roles are in place at first start.

@description('Required. Name of the user-assigned managed identity.')
param name string

@description('Optional. Azure region of the identity.')
param location string = resourceGroup().location

@description('Optional. Tags applied to the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource ID of the identity.')
output resourceId string = identity.id

@description('Client (application) ID of the identity.')
output clientId string = identity.properties.clientId

@description('Object (principal) ID of the identity, used in role assignments.')
output principalId string = identity.properties.principalId
