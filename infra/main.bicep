// FHIR interop gateway: Linux Function App (Python 3.11, v1 model) with its registry tables, Key Vault and monitoring.
// Deploy into an existing resource group; docs/deploy.md walks through the whole procedure.

targetScope = 'resourceGroup'

@description('Required. Short environment name in lowercase letters, digits and dashes (for example "prod"), part of every resource name.')
@minLength(1)
@maxLength(12)
param environmentName string

@description('Optional. Azure region of all resources. Defaults to the resource group\'s region.')
param location string = resourceGroup().location

@description('Optional. Name of the Function App; it becomes <name>.azurewebsites.net. Defaults to func-<environment>-<unique suffix>.')
@maxLength(60)
param functionAppName string = ''

@description('Optional. App Service plan size. Standard scales out to 10 instances, Premium v3 to 30.')
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

@description('Optional. Instances that always run; 2 or more keeps the gateway answering while one restarts.')
@minValue(1)
@maxValue(30)
param minimumInstances int = 2

@description('Optional. Autoscale ceiling on CPU load (at most 10 on Standard, 30 on Premium v3).')
@minValue(1)
@maxValue(30)
param maximumInstances int = 10

@description('Optional. Spread plan instances over availability zones (Premium v3 in a region with zones; needs 2 or more instances).')
param zoneRedundant bool = false

@description('Optional. Replication of the storage account that holds the registry tables.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSku string = 'Standard_GRS'

@description('Optional. Public https base URL clients call when a custom domain fronts the app (no trailing slash). Empty: https://<function app>.<appServiceDomainSuffix>.')
param publicBaseUrl string = ''

@description('Optional. DNS suffix of App Service default host names in the target cloud (azurewebsites.us in Azure Government, chinacloudsites.cn in Azure China).')
param appServiceDomainSuffix string = 'azurewebsites.net'

@description('Optional. FHIR version the gateway\'s metadata endpoint announces.')
@allowed([
  'DSTU2'
  'STU3'
  'R4'
])
param fhirVersion string = 'STU3'

@description('Optional. App setting names that hold tenants\' upstream secrets (the secret-setting of a Tenants entity), for example UPSTREAM_SECRET_CONTOSO. Each becomes a Key Vault reference to the secret named like the setting in lower case with dashes (upstream-secret-contoso).')
param upstreamSecretNames array = []

@description('Optional. The registration portal\'s multi-tenant app registration (client) id; empty turns the portal off. Its secret and the session key are Key Vault secrets portal-client-secret and portal-session-key (docs/portal.md).')
param portalClientId string = ''

@description('Optional. The partner\'s own Entra ID tenant id, whose users with the Portal.Operator app role are the portal\'s operators.')
param portalOperatorTenantId string = ''

@description('Optional. Whom customers ask to onboard their tenant, shown on the portal\'s pages.')
param portalSupportContact string = ''

@description('Optional. Days Log Analytics keeps the gateway\'s logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Optional. Tags applied to every resource.')
param tags object = {}

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var appName = empty(functionAppName) ? 'func-${environmentName}-${resourceToken}' : functionAppName
var allTags = union(tags, {
  'gateway-environment': environmentName
})

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${environmentName}-${resourceToken}'
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${environmentName}-${resourceToken}'
    applicationInsightsName: 'appi-${environmentName}-${resourceToken}'
    location: location
    retentionInDays: logRetentionInDays
    tags: allTags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'st${resourceToken}'
    location: location
    storageSku: storageSku
    tags: allTags
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: allTags
  }
}

module roleAssignments 'modules/role-assignments.bicep' = {
  name: 'role-assignments'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module hostingPlan 'modules/hosting-plan.bicep' = {
  name: 'hosting-plan'
  params: {
    name: 'asp-${environmentName}-${resourceToken}'
    location: location
    planSku: planSku
    minimumInstances: minimumInstances
    maximumInstances: maximumInstances
    zoneRedundant: zoneRedundant
    tags: allTags
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    name: appName
    location: location
    planId: hostingPlan.outputs.resourceId
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    tableEndpoint: storage.outputs.tableEndpoint
    keyVaultName: keyVault.outputs.name
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    publicBaseUrl: publicBaseUrl
    appServiceDomainSuffix: appServiceDomainSuffix
    fhirVersion: fhirVersion
    upstreamSecretNames: upstreamSecretNames
    portalClientId: portalClientId
    portalOperatorTenantId: portalOperatorTenantId
    portalSupportContact: portalSupportContact
    tags: allTags
  }
  // The identity's roles must exist before the host first reads storage and resolves the Key Vault references.
  dependsOn: [
    roleAssignments
  ]
}

@description('Name of the Function App (for func azure functionapp publish).')
output functionAppName string = functionApp.outputs.name

@description('Public base URL of the gateway (GATEWAY_PUBLIC_BASE_URL).')
output publicBaseUrl string = functionApp.outputs.gatewayBaseUrl

@description('Default host name Azure assigned; equals the base URL\'s host unless a custom domain is used.')
output defaultHostName string = functionApp.outputs.defaultHostName

@description('SMART/FHIR metadata (CapabilityStatement) URL.')
output metadataUrl string = '${functionApp.outputs.gatewayBaseUrl}/fhir/metadata'

@description('OAuth 2.0 token endpoint URL.')
output tokenUrl string = '${functionApp.outputs.gatewayBaseUrl}/oauth2/token'

@description('Name of the Key Vault that holds token-signing-key, token-signing-key-previous and the upstream secrets.')
output keyVaultName string = keyVault.outputs.name

@description('Name of the storage account holding the Clients and Tenants tables.')
output storageAccountName string = storage.outputs.name

@description('Table endpoint for the admin command line (REGISTRY_TABLE_ENDPOINT).')
output registryTableEndpoint string = storage.outputs.tableEndpoint
