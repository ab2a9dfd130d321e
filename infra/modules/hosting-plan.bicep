// Linux App Service (Dedicated) plan for the Function App, autoscaled on CPU and on HTTP queue length between a floor and a ceiling.

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

@description('Optional. Instances always running (2 or more keeps the gateway up while one instance restarts).')
@minValue(1)
@maxValue(30)
param minimumInstances int = 2

@description('Optional. Autoscale ceiling (at most 10 on Standard, 30 on Premium v3).')
@minValue(1)
@maxValue(30)
param maximumInstances int = 10

@description('Optional. Spread instances over availability zones (Premium v3 only, in regions that have zones).')
param zoneRedundant bool = false

@description('Optional. Average HTTP queue length per instance over 5 minutes above which one instance is added; scale-in waits until it stays below a quarter of it.')
@minValue(1)
param httpQueueLengthScaleOut int = 20

@description('Optional. Tags applied to the plan and its autoscale setting.')
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

resource autoscale 'Microsoft.Insights/autoscalesettings@2022-10-01' = {
  name: '${name}-autoscale'
  location: location
  tags: tags
  properties: {
    enabled: true
    targetResourceUri: plan.id
    profiles: [
      {
        name: 'cpu-and-http-queue'
        capacity: {
          minimum: string(minimumInstances)
          maximum: string(max(minimumInstances, maximumInstances))
          default: string(minimumInstances)
        }
        rules: [
          {
            metricTrigger: {
              metricName: 'CpuPercentage'
              metricResourceUri: plan.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT5M'
              timeAggregation: 'Average'
              operator: 'GreaterThan'
              threshold: 70
            }
            scaleAction: {
              direction: 'Increase'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT5M'
            }
          }
          {
            // An instance whose worker threads all wait on slow providers is busy at a few percent CPU: requests
            // then queue in front of it, which this rule sees and CPU does not.
            metricTrigger: {
              metricName: 'HttpQueueLength'
              metricResourceUri: plan.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT5M'
              timeAggregation: 'Average'
              operator: 'GreaterThan'
              threshold: httpQueueLengthScaleOut
            }
            scaleAction: {
              direction: 'Increase'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT5M'
            }
          }
          {
            metricTrigger: {
              metricName: 'CpuPercentage'
              metricResourceUri: plan.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT10M'
              timeAggregation: 'Average'
              operator: 'LessThan'
              threshold: 30
            }
            scaleAction: {
              direction: 'Decrease'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT10M'
            }
          }
          {
            // Autoscale removes an instance only when every scale-in rule holds: CPU low and the queue short.
            metricTrigger: {
              metricName: 'HttpQueueLength'
              metricResourceUri: plan.id
              timeGrain: 'PT1M'
              statistic: 'Average'
              timeWindow: 'PT10M'
              timeAggregation: 'Average'
              operator: 'LessThan'
              threshold: max(1, httpQueueLengthScaleOut / 4)
            }
            scaleAction: {
              direction: 'Decrease'
              type: 'ChangeCount'
              value: '1'
              cooldown: 'PT10M'
            }
          }
        ]
      }
    ]
  }
}

@description('Resource ID of the plan.')
output resourceId string = plan.id
