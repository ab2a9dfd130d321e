// FHIR interop gateway: Linux Function App (Python 3.13, v1 model) on Flex Consumption (default) or a Dedicated plan,
// with its registry tables, Key Vault and monitoring.
// Deploy into an existing resource group; docs/deploy.md walks through the whole procedure.

targetScope = 'resourceGroup'

@description('Required. Short environment name in lowercase letters, digits and dashes (for example "prod"), part of every resource name.')
@minLength(1)
@maxLength(12)
param environmentName string

@description('Optional. Azure region of all resources. Defaults to the resource group\'s region.')
param location string = resourceGroup().location

@description('Optional. Name of the Function App (also the first label of its default host name). Defaults to func-<environment>-<unique suffix>.')
@minLength(2)
@maxLength(60)
param functionAppName string = 'func-${environmentName}-${toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))}'

@description('Optional. FlexConsumption (serverless: scales per HTTP concurrency, always-ready instances, the default) or Dedicated (App Service plan of size planSku with autoscale). docs/deploy.md compares them.')
@allowed([
  'FlexConsumption'
  'Dedicated'
])
param hostingPlan string = 'FlexConsumption'

@description('Optional. Dedicated only: App Service plan size. Standard scales out to 10 instances, Premium v3 to 30.')
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

@description('Optional. Instances that always run (Flex Consumption: always-ready instances of the HTTP group; Dedicated: the plan\'s floor); 2 or more keeps the gateway answering while one restarts.')
@minValue(1)
@maxValue(30)
param minimumInstances int = 2

@description('Optional. Dedicated only: autoscale ceiling (at most 10 on Standard, 30 on Premium v3).')
@minValue(1)
@maxValue(30)
param maximumInstances int = 10

@description('Optional. Dedicated only: spread plan instances over availability zones (Premium v3 in a region with zones; needs 2 or more instances).')
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

@description('Optional. DNS suffix of App Service default host names in the target cloud (azurewebsites.us in Azure Government, chinacloudsites.cn in Azure China).')
param appServiceDomainSuffix string = 'azurewebsites.net'

@description('Optional. Public https base URL clients call (GATEWAY_PUBLIC_BASE_URL), no trailing slash. Defaults to https://<functionAppName>.<appServiceDomainSuffix>; set it for a custom domain or Front Door, or when Azure gave the app a unique default host name (<app>-<hash>.<region>-01.azurewebsites.net, see the defaultHostName output).')
param publicBaseUrl string = 'https://${functionAppName}.${appServiceDomainSuffix}'

@description('Optional. Threads of the Python worker that run requests at once per instance (PYTHON_THREADPOOL_THREAD_COUNT). Each proxied request holds one while it waits on the provider; docs/deploy.md explains the default.')
@minValue(1)
@maxValue(64)
param pythonThreadCount int = 32

@description('Optional. Dedicated only: scale out by one instance when each instance takes more requests per minute than this, averaged over 5 minutes (or CPU stays above 70 %); scale in when below a third of it and CPU below 30 % for 10 minutes. Default: 32 threads, providers answering in about a second, at half the threads.')
@minValue(60)
param requestsPerInstanceScaleOut int = 900

@description('Optional. Flex Consumption only: the most instances the app scales out to (40 to 1000).')
@minValue(40)
@maxValue(1000)
param flexMaximumInstances int = 100

@description('Optional. Flex Consumption only: memory per instance in MB (2048 fits 32 threads with their caches).')
@allowed([
  512
  2048
  4096
])
param flexInstanceMemoryMB int = 2048

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
var appName = functionAppName
// An empty value (accepted before publicBaseUrl had a default) still means the default host name.
var requestedBaseUrl = empty(publicBaseUrl) ? 'https://${appName}.${appServiceDomainSuffix}' : publicBaseUrl
var gatewayBaseUrl = endsWith(requestedBaseUrl, '/') ? substring(requestedBaseUrl, 0, length(requestedBaseUrl) - 1) : requestedBaseUrl
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

// Tenants' provider credentials (passwords, tokens, client secrets an EHR issued), apart from the gateway's own
// secrets: the app may write and delete here (operators enter provider secrets through it) and only read there.
module providerSecretsVault 'modules/key-vault.bicep' = {
  name: 'provider-secrets-vault'
  params: {
    name: 'kvp-${resourceToken}'
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
    providerSecretsVaultName: providerSecretsVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module plan 'modules/hosting-plan.bicep' = {
  name: 'hosting-plan'
  params: {
    name: 'asp-${environmentName}-${resourceToken}'
    location: location
    hostingPlan: hostingPlan
    planSku: planSku
    minimumInstances: minimumInstances
    zoneRedundant: zoneRedundant
    tags: allTags
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    name: appName
    location: location
    planId: plan.outputs.resourceId
    hostingPlan: hostingPlan
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    alwaysReadyInstances: minimumInstances
    maximumInstanceCount: flexMaximumInstances
    instanceMemoryMB: flexInstanceMemoryMB
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    tableEndpoint: storage.outputs.tableEndpoint
    keyVaultName: keyVault.outputs.name
    providerSecretsVaultUri: providerSecretsVault.outputs.uri
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    publicBaseUrl: gatewayBaseUrl
    fhirVersion: fhirVersion
    upstreamSecretNames: upstreamSecretNames
    pythonThreadCount: pythonThreadCount
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

// Dedicated only (Flex Consumption scales itself). After the app: one rule counts the app's requests, and
// autoscale checks that the metric's resource exists.
module autoscale 'modules/autoscale.bicep' = if (hostingPlan == 'Dedicated') {
  name: 'autoscale'
  params: {
    name: 'asp-${environmentName}-${resourceToken}-autoscale'
    location: location
    planId: plan.outputs.resourceId
    siteId: functionApp.outputs.resourceId
    minimumInstances: minimumInstances
    maximumInstances: maximumInstances
    requestsPerInstanceScaleOut: requestsPerInstanceScaleOut
    tags: allTags
  }
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

@description('Name of the Key Vault that holds token-signing-key, token-signing-key-previous, token-signing-key-next, upstream-client-key, upstream-client-key-next, upstream-client-key-previous and the upstream secrets.')
output keyVaultName string = keyVault.outputs.name

@description('Name of the Key Vault that holds tenants\' provider secrets (written through the portal or `tenant secret set`).')
output providerSecretsVaultName string = providerSecretsVault.outputs.name

@description('Client (application) ID of the app\'s user-assigned identity: the default identity of managed_identity tenants.')
output identityClientId string = identity.outputs.clientId

@description('Object (principal) ID of that identity, to grant it a data role on a provider\'s FHIR service.')
output identityPrincipalId string = identity.outputs.principalId

@description('Name of the storage account holding the Clients and Tenants tables.')
output storageAccountName string = storage.outputs.name

@description('Table endpoint for the admin command line (REGISTRY_TABLE_ENDPOINT).')
output registryTableEndpoint string = storage.outputs.tableEndpoint

// Outputs azd stores in its environment (.azure/<environment>/.env) after `azd provision`.
@description('azd: region of the deployment.')
output AZURE_LOCATION string = location

@description('azd: Entra tenant of the subscription.')
output AZURE_TENANT_ID string = tenant().tenantId

@description('azd: resource group the gateway is deployed into.')
output AZURE_RESOURCE_GROUP string = resourceGroup().name

@description('azd: name of the Function App the `api` service deploys to.')
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name

@description('azd: public base URL of the gateway, for the smoke test.')
output AZURE_GATEWAY_BASE_URL string = functionApp.outputs.gatewayBaseUrl

@description('azd: Key Vault of the signing keys and upstream secrets.')
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name

@description('azd: table endpoint for the admin command line (REGISTRY_TABLE_ENDPOINT).')
output AZURE_REGISTRY_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
