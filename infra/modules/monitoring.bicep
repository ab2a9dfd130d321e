// Log Analytics workspace and the workspace-based Application Insights component the gateway logs to.

@description('Required. Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Required. Name of the Application Insights component.')
param applicationInsightsName string

@description('Optional. Azure region of both resources.')
param location string = resourceGroup().location

@description('Optional. Days the workspace keeps logs.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Optional. Tags applied to both resources.')
param tags object = {}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // Telemetry is accepted only from Entra-authenticated senders (the app's managed identity).
    DisableLocalAuth: true
  }
}

@description('Resource name of the Application Insights component.')
output applicationInsightsName string = applicationInsights.name

@description('Connection string of the Application Insights component (not a secret: local auth is disabled).')
output connectionString string = applicationInsights.properties.ConnectionString
