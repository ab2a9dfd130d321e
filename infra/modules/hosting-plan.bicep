// Linux App Service (Dedicated) plan for the Function App; modules/autoscale.bicep scales it between a floor and a ceiling.

@description('Required. Name of the App Service plan.')
param name string

@description('Optional. Azure region of the plan.')
param location string = resourceGroup().location

@description('Optional. Plan size. Standard scales out to 10 instances, Premium v3 to 30.')
@allowed([
  'S1'
  'S2'
  'S3'
  'P0v3'
  'P1v3'
  'P2v3'
  'P3v3'
])
param planSku string = 'P0v3'

@description('Optional. Instances the plan starts with (autoscale keeps at least this many).')
@minValue(1)
@maxValue(30)
param minimumInstances int = 2

@description('Optional. Spread instances over availability zones (Premium v3 only, in regions that have zones).')
param zoneRedundant bool = false

@description('Optional. Tags applied to the plan.')
param tags object = {}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  // checkov:skip=CKV_AZURE_225:Zone redundancy needs Premium v3 in a region with availability zones; the zoneRedundant parameter turns it on where both hold.
  name: name
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: planSku
    capacity: minimumInstances
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

@description('Resource ID of the plan.')
output resourceId string = plan.id

@description('Name of the plan.')
output name string = plan.name
