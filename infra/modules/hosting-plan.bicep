// The Function App's plan: Flex Consumption (FC1, serverless, scales itself per HTTP concurrency) or a Linux App
// Service (Dedicated) plan, which modules/autoscale.bicep scales between a floor and a ceiling.

@description('Required. Name of the App Service plan.')
param name string

@description('Optional. Azure region of the plan.')
param location string = resourceGroup().location

@description('Optional. FlexConsumption (serverless, the default) or Dedicated (App Service plan of size planSku).')
@allowed([
  'FlexConsumption'
  'Dedicated'
])
param hostingPlan string = 'FlexConsumption'

@description('Optional. Dedicated only: plan size. Standard scales out to 10 instances, Premium v3 to 30.')
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

@description('Optional. Dedicated only: instances the plan starts with (autoscale keeps at least this many).')
@minValue(1)
@maxValue(30)
param minimumInstances int = 2

@description('Optional. Dedicated only: spread instances over availability zones (Premium v3 only, in regions that have zones).')
param zoneRedundant bool = false

@description('Optional. Tags applied to the plan.')
param tags object = {}

var isFlex = hostingPlan == 'FlexConsumption'
var flexSku = {
  name: 'FC1'
  tier: 'FlexConsumption'
}
var dedicatedSku = {
  name: planSku
  capacity: minimumInstances
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  // checkov:skip=CKV_AZURE_225:Zone redundancy needs Premium v3 in a region with availability zones; the zoneRedundant parameter turns it on where both hold.
  // checkov:skip=CKV_AZURE_211:Flex Consumption (the default) has no plan size; the Dedicated plan's size is the planSku parameter, P0v3 by default.
  // checkov:skip=CKV_AZURE_212:Flex Consumption scales itself (always-ready instances on the app); the Dedicated plan starts at minimumInstances, 2 by default.
  name: name
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'linux'
  sku: isFlex ? flexSku : dedicatedSku
  properties: {
    reserved: true
    zoneRedundant: isFlex ? false : zoneRedundant
  }
}

@description('Resource ID of the plan.')
output resourceId string = plan.id

@description('Name of the plan.')
output name string = plan.name
